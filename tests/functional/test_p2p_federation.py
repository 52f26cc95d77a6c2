"""Five nodes on one dev chain, a miner at each: every share reaches every node, all reach the same
tip, and every block any node finds pays exactly what every other node computes for its share."""

from __future__ import annotations

from p2pool.chain.rpc import BitcoindClient
from sharechain.bitcoin.address import encode_segwit
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import hash160
from sharechain.params import DEVNET
from tests.functional.federation import (
    expected_payouts,
    federation,
    share_set,
    sync_sharechains,
    wait_for,
)


def address(n: int) -> str:
    return encode_segwit(DEVNET.address_format.bech32_hrp, 0, hash160(b"federation" + bytes([n])))


def finders(nodes) -> set[int]:
    return {i for i, node in enumerate(nodes) if node.found.all()}


async def test_five_mining_nodes_agree_on_shares_tip_and_payouts(tmp_path):
    async with federation(tmp_path) as fed:
        first = await fed.add_node()
        nodes = [first] + [await fed.add_node(first) for _ in range(4)]
        for i, node in enumerate(nodes):
            fed.mine(node, address(i))
        # Mining until blocks came from at least two different nodes and every miner has shares.
        await wait_for(lambda: len(finders(nodes)) >= 2 and len(share_set(first)) >= 20, "blocks from two nodes",
                       timeout=150)
        await fed.stop_mining()
        final = await sync_sharechains(nodes, timeout=60)

        shares = share_set(first)
        paid = {first.chain.get(h).payout_script for h in shares}
        assert len(paid) >= 3, "shares from several nodes' miners"
        # Every node relayed its miners' shares to all others; each node's tip is the same share.
        for node in nodes:
            assert share_set(node) == shares and node.chain.tip.hash == final
            assert node.status()["peers"] >= 1
            assert not node.status()["sync"]["behind"]
        # Every block, read back from the dev chain, pays what every node computes for its share.
        async with BitcoindClient(fed.chain_url) as rpc:
            for i in finders(nodes):
                for block in (b.as_dict() for b in nodes[i].found.all()):
                    coinbase = Block.parse(bytes.fromhex(await rpc.getblock(block["hash"], 0))).transactions[0]
                    on_chain = [[o.script_pubkey, o.value] for o in coinbase.outputs if o.value > 0]
                    assert sum(v for _, v in on_chain) == block["value"]
                    for other in nodes:
                        assert expected_payouts(other, block) == block["payouts"], f"node {nodes.index(other)}"
                    assert len(on_chain) == len(block["payouts"])
