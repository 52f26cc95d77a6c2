"""A side share is paid as an uncle by the node's own next work: the job includes it, and the block
found on that job pays its miner, less the uncle penalty (credited to the share that includes it).
Read back from the dev chain and checked against PPLNS weights recomputed from the stored shares."""

from __future__ import annotations

import time

import trio

from kernels.factory import make_scanner
from miner.miner import MinerConfig, run_miner
from p2pool.chain.rpc import BitcoindClient
from p2pool.config import node_config
from p2pool.node import Node
from sharechain.bitcoin.address import encode_segwit, script_to_address
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import hash160
from sharechain.bitcoin.serialize import ByteReader
from sharechain.chain import ShareChain
from sharechain.params import DEVNET
from sharechain.pplns import split_reward
from sharechain.share import ShareInfo
from tests.functional.federation import wait_for
from tests.functional.sharegen import COINBASE_VALUE, grind, make_chain, payout_script, store_shares

SIDE_MINER = payout_script(7)


def with_a_side_share() -> tuple[list, bytes]:
    """A short history whose last two heights hold two siblings: one stays a side share."""
    history = make_chain(8)
    chain = ShareChain(DEVNET)
    for share in history:
        chain.add(share, now=1 << 40)
    parent = chain.get(history[-2].hash)
    assert parent is not None
    info = ShareInfo(parent.hash, parent.height + 1, int(time.time()), chain.next_bits(parent), SIDE_MINER)
    payouts = split_reward(COINBASE_VALUE, chain.candidate_weights(info), SIDE_MINER, DEVNET)
    side = grind(info, payouts, DEVNET, make_scanner("numba", threads=1), tag=b"side")
    return [*history, side], side.hash


def weights_from_records(chain: ShareChain, tip: bytes) -> dict[bytes, int]:
    """PPLNS weights of the window ending at ``tip``, from the stored records alone."""
    weights: dict[bytes, int] = {}
    record = chain.get(tip)
    for _ in range(DEVNET.pplns_window):
        if record is None:
            break
        own = record.work
        for uncle_hash in record.uncles:
            uncle = chain.get(uncle_hash)
            assert uncle is not None
            penalty = uncle.work * DEVNET.uncle_penalty_percent // 100
            own += penalty
            weights[uncle.payout_script] = weights.get(uncle.payout_script, 0) + uncle.work - penalty
        weights[record.payout_script] = weights.get(record.payout_script, 0) + own
        record = chain.get(record.prev_hash)
    return weights


async def test_a_side_share_is_paid_as_an_uncle_by_the_next_block(tmp_path):
    shares, side_hash = with_a_side_share()
    store_shares(tmp_path / "node" / "sharechain", shares)
    config = node_config(network="devnet", datadir=str(tmp_path / "node"), stratum="127.0.0.1:0", api="127.0.0.1:0",
                         no_p2p=True, no_miner=True, devchain_bits="207fffff")  # every share is a block
    node = Node(config)
    finder = encode_segwit(DEVNET.address_format.bech32_hrp, 0, hash160(b"finder"))
    async with trio.open_nursery() as nursery:
        endpoints = await nursery.start(node.run)
        chain, found = node.chain, node.found
        assert chain is not None and found is not None and chain.tip is not None
        # Whichever sibling lost the tie is the side share the next job must include.
        uncle = next(h for h in (side_hash, shares[-2].hash) if h != chain.tip.hash and h in chain)
        uncle_script = chain.get(uncle).payout_script
        nursery.start_soon(run_miner, MinerConfig(url=f"stratum+tcp://127.0.0.1:{endpoints.stratum_port}",
                                                  user=finder, threads=1, kernel="numba", report_interval=3600))
        await wait_for(lambda: len(found) >= 1, "the first block", 120)
        block = found.all()[0]
        async with BitcoindClient(endpoints.bitcoind_url) as rpc:
            raw = bytes.fromhex(await rpc.getblock(block.hash, 0))
        nursery.cancel_scope.cancel()

    info = ShareInfo.read(ByteReader(bytes.fromhex(block.share_info)))
    assert uncle in info.uncles  # the node's own job included the side share
    coinbase = Block.parse(raw).transactions[0]
    paid = {script_to_address(o.script_pubkey, DEVNET.address_format): o.value for o in coinbase.outputs if o.value}
    weights = weights_from_records(chain, info.prev_hash)
    before_uncle = weights.get(uncle_script, 0)  # what the uncle's miner had from main-chain shares
    # The new share's own weight: its work, plus the penalty of each uncle it includes.
    found_share = chain.get(bytes.fromhex(block.share)[::-1])
    assert found_share is not None
    new_work = found_share.work
    for uncle_hash in info.uncles:
        record = chain.get(uncle_hash)
        assert record is not None
        penalty = record.work * DEVNET.uncle_penalty_percent // 100
        weights[record.payout_script] = weights.get(record.payout_script, 0) + record.work - penalty
        new_work += penalty
    weights[info.payout_script] = weights.get(info.payout_script, 0) + new_work
    expected = {script_to_address(s, DEVNET.address_format): v
                for s, v in split_reward(block.value, weights, info.payout_script, DEVNET)}
    assert paid == expected
    uncle_address = script_to_address(uncle_script, DEVNET.address_format)
    assert paid[uncle_address] > 0
    uncle_record = chain.get(uncle)
    assert uncle_record is not None
    # With the penalty, the uncle's miner is paid for 80 % of its side share's work on top of the rest.
    penalty = uncle_record.work * DEVNET.uncle_penalty_percent // 100
    assert weights[uncle_script] - before_uncle == uncle_record.work - penalty
