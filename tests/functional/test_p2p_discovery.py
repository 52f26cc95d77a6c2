"""Discovery through the network's DHT: 21 nodes, each told only of one seed, with peer exchange off (so
the DHT is the only way to hear of anyone else), find several peers each through the DHT; then the
seed stops and the network stays in one piece (a share made on one node reaches every other)."""

from __future__ import annotations

import pytest
import trio
from libp2p.peer.id import ID

from p2pool.events import ShareSource, SourceKind
from p2pool.p2p.discovery import DiscoveryConfig
from p2pool.p2p.limits import LimitConfig
from p2pool.p2p.peers import PeerConfig
from p2pool.p2p.sync_client import SyncConfig
from sharechain.result import AddStatus
from tests.functional.federation import federation, peer_id, wait_for
from tests.functional.framework import TIMEOUT_FACTOR
from tests.functional.sharegen import make_chain

NODES = 20
# Short timers: DHT rounds every 0.5 s while short of addresses, up to 5 s apart otherwise. Five outbound peers
# each (the seed and four more), quiet tip polls and patient timeouts: 21 nodes share one core here, so a burst of new
# connections can keep a stream waiting seconds for its turn.
DHT_ONLY = {"peers": PeerConfig(maintain_interval=0.5, peer_exchange=False, target_outbound=5,
                                limits=LimitConfig(identify_timeout=30.0)),
            "discovery": DiscoveryConfig(first_interval=0.5, interval=5.0, lookups=1),
            "sync": SyncConfig(tip_interval=10.0, reconcile_interval=10.0, request_timeout=30.0)}


def found_through_dht(node) -> list[str]:
    return [p for p in node.p2p.peers.outbound if node.p2p.peers.found_by.get(p) == "dht"]


def one_piece(nodes) -> bool:
    """Whether ``nodes`` form one connected graph over their current connections."""
    by_id = {peer_id(n): n for n in nodes}
    seen, todo = {peer_id(nodes[0])}, [nodes[0]]
    while todo:
        for other in todo.pop().p2p.peers.connected():
            if other in by_id and other not in seen:
                seen.add(other)
                todo.append(by_id[other])
    return len(seen) == len(nodes)


@pytest.mark.slow
async def test_nodes_told_only_of_a_seed_find_each_other_through_the_dht_and_outlive_it(tmp_path):
    share = make_chain(1)[0]
    async with federation(tmp_path) as fed:
        seed = await fed.add_node(seed=True, p2p=DHT_ONLY, name="seed")
        nodes = [await fed.add_node(seed, seed=True, p2p=DHT_ONLY) for _ in range(NODES)]
        assert all(n.p2p.config.bootstrap == (fed.nodes[0].endpoints.p2p_addrs[0],) for n in nodes)

        try:
            await wait_for(lambda: all(len(found_through_dht(n)) >= 3 for n in nodes),
                           "every node to hold 3 outbound peers found through the DHT", 240)
        except AssertionError as exc:
            state = [(len(found_through_dht(n)), len(n.p2p.peers.outbound), len(n.p2p.peers.inbound),
                      n.p2p.discovery.rounds, len(n.p2p.book)) for n in nodes]
            raise AssertionError(f"{exc}: (dht, outbound, inbound, DHT rounds, known) per node {state}") from None
        assert all(n.status()["p2p"]["discovery"]["routing_table"] >= 3 for n in nodes)
        assert all(n.p2p.book.info(p).source == "dht" for n in nodes for p in found_through_dht(n))

        fed.stop_node(seed)
        with trio.fail_after(60 * TIMEOUT_FACTOR):
            await fed.stopped[0].wait()
        try:
            await wait_for(lambda: all(peer_id(seed) not in n.p2p.peers.connected() for n in nodes),
                           "the seed to be gone")
        except AssertionError as exc:
            seed_id = ID.from_base58(peer_id(seed))
            state = [([c for c in n.p2p.peers.table.connections() if c.peer == peer_id(seed)],
                      [(c.is_closed, c.direction) for c in n.p2p.host.get_network().get_connections(seed_id)])
                     for n in nodes if peer_id(seed) in n.p2p.peers.connected()]
            raise AssertionError(f"{exc}: {state}") from None
        assert one_piece(nodes)

        origin = nodes[-1]
        assert origin.intake is not None
        assert origin.intake.add(share, ShareSource(SourceKind.LOCAL)).status is AddStatus.ADDED
        await wait_for(lambda: all(share.hash in n.chain for n in nodes), "the share to reach every node", 60)
