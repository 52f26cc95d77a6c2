"""Two real libp2p hosts on 127.0.0.1 (seed nodes: store, sharechain, P2P service, no miners)
exchange shares by gossip and by the sync protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from p2pool.config import node_config
from p2pool.events import ShareSource, SourceKind
from p2pool.node import Node
from sharechain.params import DEVNET
from sharechain.result import AddStatus
from tests.fixtures.full_disk import fill, small_filesystem
from tests.functional.sharegen import make_chain, store_shares


@pytest.fixture(scope="module")
def history() -> list:
    return make_chain(40)


async def wait_for(predicate: Callable[[], object], what: str, timeout: float = 30) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.05)


@asynccontextmanager
async def seed(datadir: Path, *bootstrap: str, shares: Sequence = ()) -> AsyncIterator[Node]:
    if shares:
        store_shares(datadir / "sharechain", list(shares))
    config = node_config(datadir=datadir, api="127.0.0.1:0", p2p=["/ip4/127.0.0.1/tcp/0"], bootstrap=list(bootstrap),
                         seed=True)
    node = Node(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        yield node
        nursery.cancel_scope.cancel()


async def test_a_share_travels_by_gossip(tmp_path, history):
    async with seed(tmp_path / "a", shares=history[:-1]) as a, \
            seed(tmp_path / "b", a.endpoints.p2p_addrs[0], shares=history[:-1]) as b:
        await wait_for(lambda: a.p2p.gossip.links() and b.p2p.gossip.links(), "gossip links")
        share = history[-1]
        assert a.intake.add(share, ShareSource(SourceKind.LOCAL)).status is AddStatus.ADDED
        await wait_for(lambda: share.hash in b.chain, "the share at b")
        assert b.chain.tip.hash == share.hash
        status = b.status()
        assert status["peer_id"] == b.p2p.peer_id and status["peers"] == 1
        assert status["p2p"]["peers"][0]["id"] == a.p2p.peer_id


async def test_gossiped_shares_leave_the_message_cache_within_seconds(tmp_path, history):
    # The router keeps what it gossiped for a few heartbeats of 1 s (to answer IWANT), not minutes: with
    # libp2p's adaptive gossip, a two-node network counted as unhealthy and the heartbeat went to 30 s.
    async with seed(tmp_path / "a", shares=history[:20]) as a, \
            seed(tmp_path / "b", a.endpoints.p2p_addrs[0], shares=history[:20]) as b:
        await wait_for(lambda: a.p2p.gossip.links() and b.p2p.gossip.links(), "gossip links")
        for node in (a, b):  # libp2p scores the network's health every 30 s: ask for it at the next heartbeat
            node.p2p.gossip.router.last_health_update = 0
        await trio.sleep(1.5)  # a heartbeat or more (1 s each): no state of ours to wait on
        for share in history[20:]:
            assert a.intake.add(share, ShareSource(SourceKind.LOCAL)).status is AddStatus.ADDED
        await wait_for(lambda: b.chain.tip.hash == history[-1].hash, "the shares at b")
        assert a.p2p.gossip.cached_messages() > 0
        await wait_for(lambda: a.p2p.gossip.cached_messages() == 0 and b.p2p.gossip.cached_messages() == 0,
                       "the message caches to empty", timeout=20)


async def test_an_empty_node_syncs_every_share(tmp_path, history):
    async with seed(tmp_path / "a", shares=history) as a, seed(tmp_path / "b", a.endpoints.p2p_addrs[0]) as b:
        await wait_for(lambda: len(b.chain) == len(history), "b to sync the history")
        assert b.chain.tip.hash == a.chain.tip.hash == history[-1].hash
        # Synced shares are stored durably, like every accepted share.
        assert all(b.store.has_share(s.hash) for s in history)
        await wait_for(lambda: not b.status()["sync"]["syncing"], "sync to finish")
        assert b.status()["sync"]["have_height"] == history[-1].info.height
        assert not b.p2p.progress().behind


async def test_identity_is_kept_across_restarts(tmp_path):
    async with seed(tmp_path / "a") as a:
        first = a.p2p.peer_id
    key = tmp_path / "a" / "p2p_identity.key"
    assert key.stat().st_mode & 0o777 == 0o600
    async with seed(tmp_path / "a") as again:
        assert again.p2p.peer_id == first
    assert DEVNET.name in again.p2p.names.shares_topic and DEVNET.network_id.hex() in str(again.p2p.names.sync)


async def test_a_node_that_cannot_store_a_gossiped_share_does_not_relay_it_nor_blame_the_sender(tmp_path, history):
    with small_filesystem(tmp_path / "b" / "sharechain") as disk:
        async with seed(tmp_path / "a", shares=history[:-8]) as a, \
                seed(tmp_path / "b", a.endpoints.p2p_addrs[0], shares=history[:-8]) as b:
            await wait_for(lambda: a.p2p.peer_id in b.p2p.peers.connected(), "the connection")
            fill(disk)
            sender = a.p2p.peer_id
            relayed = []
            for share in history[-8:]:  # the last page of LevelDB's log may still take one
                relayed.append(await b.p2p._on_gossip(sender, sender, share.serialize()))
                if b.store.write_error:
                    break
            assert b.store.write_error is not None and relayed[-1] is False  # False: gossipsub drops it
            assert share.hash not in b.chain
            assert sender in b.p2p.peers.connected() and not b.p2p.ban_list()
