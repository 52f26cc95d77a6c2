"""A network whose sharechain is many windows long: a new node joins through one seed, downloads only
what consensus needs (the shares the seed keeps, headers first), reaches the others' tip and payouts,
and mines on it; the others accept its shares."""

from __future__ import annotations

import dataclasses

import pytest

from p2pool.p2p.join import build_plan
from p2pool.p2p.joiner import JoinConfig
from p2pool.p2p.sync_client import SyncConfig
from sharechain.bitcoin.address import encode_segwit
from sharechain.bitcoin.hashing import hash160
from sharechain.horizon import keep_depth
from sharechain.params import DEVNET
from tests.functional.federation import federation, peer_id, sync_sharechains, wait_for
from tests.functional.sharegen import make_chain

# A short window and margin, so that a history ten windows long is quick to make: keep 60 + 63 heights.
PARAMS = dataclasses.replace(DEVNET, pplns_window=60, reorg_margin=60)
HISTORY = 600
VALUE = 50_0000_0000


def address(n: int) -> str:
    return encode_segwit(DEVNET.address_format.bech32_hrp, 0, hash160(b"join" + bytes([n])))


@pytest.mark.parametrize("check_process", [False, True], ids=["checked in-process", "checking process"])
async def test_a_new_node_joins_from_a_recent_share_and_mines(tmp_path, check_process):
    history = make_chain(HISTORY, params=PARAMS, uncle_every=7)
    assert 10 * PARAMS.pplns_window == HISTORY and len(history) > 5 * keep_depth(PARAMS)
    async with federation(tmp_path) as fed:
        seed = await fed.add_node(seed=True, shares=history, params=PARAMS)
        other = await fed.add_node(seed, shares=history, params=PARAMS)
        # Both pruned what they loaded down to what the keep rule needs.
        kept = len(seed.chain)
        assert seed.chain.tip.hash == other.chain.tip.hash
        assert len(seed.chain.main_line) == keep_depth(PARAMS) and kept < len(history) // 4
        plan = build_plan(seed.chain)
        assert len(plan.entries) == kept and plan.claims

        tuning = {"sync": SyncConfig(join=JoinConfig(check_process=check_process))}
        joiner = await fed.add_node(seed, params=PARAMS, p2p=tuning)
        tip = await sync_sharechains([seed, other, joiner], all_shares=False)
        report = await wait_for(lambda: joiner.p2p.client.joiner.last, "the join to be reported")
        assert report.peer == peer_id(seed)
        # It downloaded the seed's plan and nothing more: not the history below the seed's lowest share.
        assert report.planned == report.downloaded == kept
        assert report.checked_elsewhere == (kept if check_process else 0)
        assert joiner.chain.horizon == seed.chain.horizon
        assert {r.hash for r in joiner.chain.records()} <= {r.hash for r in seed.chain.records()}
        # The same tip, cumulative work and payouts as the others, for the tip and the whole window.
        assert joiner.chain.tip.chain_work == seed.chain.tip.chain_work
        for record in seed.chain.main_chain(PARAMS.pplns_window):
            assert joiner.chain.payouts(record.hash, VALUE) == seed.chain.payouts(record.hash, VALUE)
        script = bytes.fromhex("0014") + b"\x05" * 20
        now = seed.chain.tip.timestamp + 1
        assert joiner.chain.prepare(script, now, VALUE) == seed.chain.prepare(script, now, VALUE)

        # It mines as soon as it is in sync, and the others take its shares.
        assert not joiner.p2p.status()["sync"]["behind"]
        fed.mine(joiner, address(1))
        await wait_for(lambda: other.chain.tip.height >= seed.chain.get(tip).height + 3, "three shares mined by the "
                       "joined node to reach the others", timeout=90)
        await fed.stop_mining()
        final = await sync_sharechains([seed, other, joiner], all_shares=False)
        assert final != tip and joiner.chain.payouts(final, VALUE) == other.chain.payouts(final, VALUE)
