"""A peer that drops in the middle of a download: the syncing or joining node goes on with another peer, or, when
it had no other, falls back to an empty chain (nothing half-stored) and joins again once the peer is
back; either way it reaches the tip, and what it stored opens to the same chain after a restart."""

from __future__ import annotations

import dataclasses

import trio

from p2pool.node import Node
from p2pool.p2p.joiner import JoinConfig
from p2pool.p2p.sync_client import SyncConfig
from sharechain.params import DEVNET
from tests.functional.federation import (
    Federation,
    connect_nodes,
    federation,
    peer_id,
    sync_sharechains,
    wait_for,
)
from tests.functional.framework import TIMEOUT_FACTOR
from tests.functional.sharegen import make_chain

PARAMS = dataclasses.replace(DEVNET, pplns_window=60, reorg_margin=60)
HISTORY = 600
# Small batches one at a time, so that a download takes many round trips and a drop lands inside it.
SLOW_JOIN = {"sync": SyncConfig(tip_interval=1.0, reconcile_interval=2.0,
                                join=JoinConfig(batch_size=4, per_peer=1, apply_chunk=4, timeout=5.0))}


async def _started_downloading(node: Node, total: int) -> int:
    """Shares ``node`` holds once its join has applied a first batch (checked at every scheduling point)."""
    assert node.chain is not None
    with trio.fail_after(60 * TIMEOUT_FACTOR):
        while len(node.chain) == 0:
            await trio.lowlevel.checkpoint()
    held = len(node.chain)
    assert held < total, f"the join was over ({held} of {total} shares) before the peer could drop"
    return held


async def _stored_chain_matches(fed: Federation, node: Node, tip: bytes) -> None:
    """Restarted, ``node`` loads exactly the chain it had: nothing half-stored."""
    assert node.chain is not None and node.chain.tip is not None
    work = node.chain.tip.chain_work
    restarted = await fed.restart_node(node)
    assert restarted.chain is not None and restarted.chain.tip is not None
    assert restarted.chain.tip.hash == tip and restarted.chain.tip.chain_work == work


async def test_a_join_goes_on_with_another_peer_when_one_drops(tmp_path):
    history = make_chain(HISTORY, params=PARAMS, uncle_every=7)
    async with federation(tmp_path) as fed:
        first = await fed.add_node(seed=True, shares=history, params=PARAMS)
        second = await fed.add_node(first, shares=history, params=PARAMS)
        kept = len(first.chain)
        joiner = await fed.add_node(first, second, params=PARAMS, p2p=SLOW_JOIN)
        await _started_downloading(joiner, kept)
        fed.stop_node(first)
        tip = await sync_sharechains([second, joiner], all_shares=False)
        assert joiner.chain.horizon == second.chain.horizon
        assert joiner.chain.tip.chain_work == second.chain.tip.chain_work
        await wait_for(lambda: peer_id(first) not in joiner.p2p.peers.connected(), "the dropped peer to be gone")
        await _stored_chain_matches(fed, joiner, tip)


async def test_a_join_whose_only_peer_drops_falls_back_and_joins_again_when_it_returns(tmp_path):
    history = make_chain(HISTORY, params=PARAMS, uncle_every=7)
    async with federation(tmp_path) as fed:
        seed = await fed.add_node(seed=True, shares=history, params=PARAMS)
        kept = len(seed.chain)
        joiner = await fed.add_node(seed, params=PARAMS, p2p=SLOW_JOIN)
        await _started_downloading(joiner, kept)
        fed.stop_node(seed)
        # Abandoned half-way: the chain is reset, in memory and on disk, not left with a partial join.
        await wait_for(lambda: len(joiner.chain) == 0 and joiner.store.count() == 0, "the join to fall back")
        seed = await fed.restart_node(seed)  # the same peer, back (on a new port: it dials the joiner)
        await connect_nodes(seed, joiner)
        tip = await sync_sharechains([seed, joiner], all_shares=False)
        assert joiner.chain.horizon == seed.chain.horizon
        assert joiner.chain.tip.chain_work == seed.chain.tip.chain_work
        await _stored_chain_matches(fed, joiner, tip)


async def test_a_sync_goes_on_with_another_peer_when_one_drops(tmp_path):
    """Not a join: a node that has the start of the chain downloads the rest (batch by batch)."""
    history = make_chain(100, params=PARAMS)
    slow_sync = {"sync": SyncConfig(tip_interval=1.0, reconcile_interval=2.0, batch_size=4, per_peer=1)}
    async with federation(tmp_path) as fed:
        first = await fed.add_node(seed=True, shares=history, params=PARAMS)
        second = await fed.add_node(first, shares=history, params=PARAMS)
        late = await fed.add_node(first, second, shares=history[:20], params=PARAMS, p2p=slow_sync)
        assert late.chain is not None
        with trio.fail_after(60 * TIMEOUT_FACTOR):
            while len(late.chain) == 20:
                await trio.lowlevel.checkpoint()
        assert len(late.chain) < len(history), "the sync was over before the peer could drop"
        fed.stop_node(first)
        tip = await sync_sharechains([second, late])
        assert tip == history[-1].hash
        await _stored_chain_matches(fed, late, tip)
