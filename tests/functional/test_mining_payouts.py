"""Several blocks mined by two payout addresses at different rates: every coinbase, read back from the
chain backend, pays exactly the PPLNS split recomputed here, independently, from the stored sharechain."""

from __future__ import annotations

import pytest
import trio

from miner.miner import MinerConfig, run_miner
from p2pool.chain.rpc import BitcoindClient
from p2pool.config import node_config
from p2pool.node import Node
from p2pool.storage.share_store import ShareStore
from sharechain.bitcoin.address import address_to_script
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.serialize import ByteReader
from sharechain.bitcoin.target import bits_to_target, target_from_work, target_to_bits
from sharechain.params import DEVNET
from sharechain.share import ShareInfo

ADDRESS_A = "bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m"
ADDRESS_B = "bcrt1q0ht9tyks4vh7p5p904t340cr9nvahy7uevmqwj"


def reference_pplns(records: dict, info: ShareInfo, value: int) -> list[tuple[bytes, int]]:
    """PPLNS written out again from docs/consensus.md, on the stored records alone."""
    params = DEVNET
    weights: dict[bytes, int] = {}

    def work(bits: int) -> int:
        return 2**256 // (bits_to_target(bits) + 1)

    def count(script: bytes, bits: int, uncles: tuple[bytes, ...]) -> None:
        own = work(bits)
        for uncle_hash in uncles:
            uncle = records[uncle_hash]
            penalty = work(uncle.share_bits) * params.uncle_penalty_percent // 100
            weights[uncle.payout_script] = weights.get(uncle.payout_script, 0) + work(uncle.share_bits) - penalty
            own += penalty
        weights[script] = weights.get(script, 0) + own

    count(info.payout_script, info.share_bits, info.uncles)
    parent, counted = info.prev_hash, 1
    while counted < params.pplns_window and parent in records:
        record = records[parent]
        count(record.payout_script, record.share_bits, record.uncles)
        parent, counted = record.prev_hash, counted + 1

    finder = info.payout_script
    bonus = value * params.finder_bonus_per_mille // 1000
    paid = dict(weights)
    while True:
        total = sum(paid.values())
        amounts = {s: (value - bonus) * w // total for s, w in paid.items()}
        dust = [s for s, a in amounts.items() if a < params.dust_limit and s != finder]
        if not dust:
            break
        for s in dust:
            del paid[s]
    amounts[finder] = amounts.get(finder, 0) + value - sum(amounts.values())
    return sorted((s, a) for s, a in amounts.items() if a > 0)


async def wait_for(predicate, timeout: float, what: str) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.05)


@pytest.mark.slow
async def test_blocks_pay_two_miners_exact_pplns(tmp_path):
    config = node_config(network="devnet", datadir=tmp_path / "node", stratum="127.0.0.1:0", api="127.0.0.1:0",
                         no_miner=True, no_p2p=True, devchain_bits=target_to_bits(target_from_work(1 << 21)))
    node = Node(config)
    fetched: list[tuple[dict, bytes]] = []
    async with trio.open_nursery() as nursery:
        endpoints = await nursery.start(node.run)
        found = node.found
        assert found is not None
        url = f"stratum+tcp://127.0.0.1:{endpoints.stratum_port}"
        nursery.start_soon(run_miner, MinerConfig(url=url, user=ADDRESS_A, threads=1, kernel="numba"))
        await wait_for(lambda: len(found) >= 2, 180, "miner A's first blocks")
        # Miner B joins late and leaves early: a lower average rate than A.
        miner_b = trio.CancelScope()
        nursery.start_soon(_run_until_cancelled, miner_b,
                           MinerConfig(url=url, user=ADDRESS_B + ".rig1", threads=1, kernel="hashlib"))
        await wait_for(lambda: _paying([b.as_dict() for b in found.all()], ADDRESS_B) >= 3, 240, "blocks paying miner B")
        miner_b.cancel()
        after_b = len(found)
        await wait_for(lambda: len(found) >= after_b + 2, 180, "more blocks after B left")
        async with BitcoindClient(endpoints.bitcoind_url) as rpc:
            fetched += [(block, bytes.fromhex(await rpc.getblock(block["hash"], 0)))
                        for block in (b.as_dict() for b in found.all())]
        nursery.cancel_scope.cancel()

    with ShareStore(tmp_path / "node" / "sharechain", DEVNET) as store:
        records = {r.hash: r for r in store.records()}
    script_a = address_to_script(ADDRESS_A, DEVNET.address_format)
    script_b = address_to_script(ADDRESS_B, DEVNET.address_format)
    paid_to_b = 0
    assert len(fetched) >= 5
    for record, raw in fetched:
        block = Block.parse(raw)
        coinbase = block.transactions[0]
        info = ShareInfo.read(ByteReader(bytes.fromhex(record["share_info"])))
        commitment = DEVNET.network_id + sha256d(info.serialize())
        assert any(out.script_pubkey[2:] == commitment for out in coinbase.outputs), "share commitment missing"
        payouts = [(out.script_pubkey, out.value) for out in coinbase.outputs if out.value > 0]
        expected = reference_pplns(records, info, record["value"])
        assert payouts == expected
        assert sum(v for _, v in payouts) == record["value"] == coinbase.total_out()
        assert {s for s, _ in payouts} <= {script_a, script_b}
        paid_to_b += dict(payouts).get(script_b, 0)
    assert paid_to_b > 0


async def _run_until_cancelled(scope: trio.CancelScope, config: MinerConfig) -> None:
    with scope:
        await run_miner(config)


def _paying(blocks: list[dict], address: str) -> int:
    return sum(1 for b in blocks if any(addr == address for addr, _ in b["payouts"]))


