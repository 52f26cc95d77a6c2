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
