"""A 3|2 partition that mines on both sides, then heals: every node converges on the heavier chain
and computes the same payouts. With pruning on: the history is several windows long, so every node
has forgotten most of it, and keeps forgetting as both sides mine."""

from __future__ import annotations

import dataclasses

from sharechain.bitcoin.address import encode_segwit
from sharechain.bitcoin.hashing import hash160, hash_to_int
from sharechain.horizon import Horizon, keep_depth
from sharechain.params import DEVNET
from tests.functional.federation import connect_nodes, federation, peer_id, sync_sharechains, wait_for
from tests.functional.sharegen import make_chain

VALUE = 50_0000_0000
# Keep 40 + 43 heights: the partition's ten shares a side are well inside the margin.
PARAMS = dataclasses.replace(DEVNET, pplns_window=40, reorg_margin=40)


def address(n: int) -> str:
    return encode_segwit(DEVNET.address_format.bech32_hrp, 0, hash160(b"partition" + bytes([n])))


async def test_partition_heals_to_the_heaviest_chain(tmp_path):
    history = make_chain(4 * keep_depth(PARAMS), params=PARAMS, uncle_every=9)
    base = max(s.info.height for s in history)
    async with federation(tmp_path) as fed:
        a0 = await fed.add_node(shares=history, params=PARAMS)
        side_a = [a0, await fed.add_node(a0, shares=history, params=PARAMS),
                  await fed.add_node(a0, shares=history, params=PARAMS)]
        b0 = await fed.add_node(shares=history, params=PARAMS)
        side_b = [b0, await fed.add_node(b0, shares=history, params=PARAMS)]
        lowest = a0.chain.horizon.lowest
        assert lowest > 0 and len(a0.chain) < len(history) // 3
        fed.mine(side_a[0], address(0))
        fed.mine(side_a[1], address(1))
        fed.mine(side_b[0], address(2))
        # Each side builds its own chain on the common history, unaware of the other.
        await wait_for(lambda: all(n.chain.tip.height >= base + 10 for n in side_a + side_b),
                       "ten new shares on both sides", timeout=120)
        await fed.stop_mining()
        tip_a = await sync_sharechains(side_a, all_shares=False)
        tip_b = await sync_sharechains(side_b, all_shares=False)
        assert tip_a != tip_b
        assert tip_b not in side_a[0].chain and tip_a not in side_b[0].chain
        records = {tip_a: side_a[0].chain.get(tip_a), tip_b: side_b[0].chain.get(tip_b)}
        heaviest = max(records, key=lambda h: (records[h].chain_work, -hash_to_int(h)))
        assert {peer_id(n) for n in side_b}.isdisjoint(p for n in side_a for p in n.p2p.peers.connected())

        # Both sides kept pruning as they mined.
        assert all(n.chain.horizon.lowest > lowest for n in side_a + side_b)
        # A floor follows the highest tip a node has had and never comes down: the lighter side's may be
        # higher than the heavier side's if its chain was taller.
        floors = {peer_id(n): n.chain.horizon.floor for n in side_a + side_b}

        await connect_nodes(side_a[2], side_b[0])  # heal
        nodes = side_a + side_b
        # Every node ends on the heavier tip with the same main chain (and so the same uncles): side
        # shares of the partition that nothing includes need not reach everyone (consensus does not
        # read them), so the nodes' sets of shares may differ by those.
        final = await sync_sharechains(nodes, timeout=60, all_shares=False)
        assert final == heaviest
        final_height = nodes[0].chain.get(final).height
        # Each floor followed its tips: no lower than before the heal nor than the final tip's, and, for a node
        # that held for a moment a share of the heavier side's that later lost (heavier than its own side's
        # tip, taller than the final one), as high as that share; the kept heights follow the floor.
        top = max(r.height for n in nodes for r in n.chain.records())
        for n in nodes:
            least = max(floors[peer_id(n)], final_height - PARAMS.reorg_margin)
            horizon = n.chain.horizon
            assert least <= horizon.floor <= max(least, top - PARAMS.reorg_margin), (peer_id(n), horizon, least, top)
            assert horizon == Horizon.of(horizon.floor, PARAMS), (peer_id(n), horizon)
        main = [r.hash for r in nodes[0].chain.main_chain(10)]
        assert all([r.hash for r in node.chain.main_chain(10)] == main for node in nodes[1:])
        # Every node splits a coinbase the same way: for the tip and each of the last ten main-chain shares.
        for share_hash in main:
            expected = nodes[0].chain.payouts(share_hash, VALUE)
            assert len(expected) >= 2
            for node in nodes[1:]:
                assert node.chain.payouts(share_hash, VALUE) == expected
        # And the next share any of them would mine pays alike.
        script = bytes.fromhex("0014") + b"\x07" * 20
        now = max(r.timestamp for r in nodes[0].chain.main_chain(11)) + 1
        # (a node that holds a partition's side share nobody included yet names it as an uncle, as consensus
        # allows; nodes that would name the same uncles build the same share)
        by_uncles: dict[tuple[bytes, ...], set[str]] = {}
        for node in nodes:
            info, payouts = node.chain.prepare(script, now, VALUE)
            by_uncles.setdefault(tuple(info.uncles), set()).add(repr((info, payouts)))
        assert all(len(alike) == 1 for alike in by_uncles.values()), by_uncles
