"""A peer that reconnects keeps hearing our gossip (p2pool.p2p.pubsub_reconnect): a late failure
report from its old connection's stream neither unregisters its live stream nor wipes its
subscriptions, and a stale stream left from a closed connection is replaced."""

from __future__ import annotations

from libp2p.peer.id import ID

from p2pool.p2p.pubsub_reconnect import writable
from tests.functional.federation import federation, p2p_addr, peer_id, wait_for
from tests.functional.sharegen import make_chain
from tests.functional.test_p2p_misbehaving import start_bad_peer


def subscribed(node, peer: str) -> bool:
    pubsub = node.p2p.gossip.pubsub
    return ID.from_base58(peer) in pubsub.peer_topics.get(node.p2p.gossip.topic, set())


def registered(node, peer: str) -> bool:
    stream = node.p2p.gossip.pubsub.peers.get(ID.from_base58(peer))
    return stream is not None and writable(stream)


async def test_a_reconnected_peer_keeps_its_stream_and_subscriptions(tmp_path):
    async with federation(tmp_path) as fed:
        n0 = await fed.add_node(shares=make_chain(5))
        target = peer_id(n0)
        other = await start_bad_peer(fed)
        assert await other.connect(p2p_addr(n0))
        await other.wait_mesh(target)
        await wait_for(lambda: subscribed(n0, other.peer_id) and registered(n0, other.peer_id), "the peer to subscribe")

        # A failure reported late for a stream of an earlier connection, while this one is up: nothing is lost.
        pubsub = n0.p2p.gossip.pubsub
        stream = pubsub.peers[ID.from_base58(other.peer_id)]
        pubsub._handle_dead_peer(ID.from_base58(other.peer_id))
        assert subscribed(n0, other.peer_id)
        assert pubsub.peers[ID.from_base58(other.peer_id)] is stream

        # Hung up on and back at once, again and again: each time both sides hear each other's topic. (The node may
        # redial first: it dials toward its outbound target and knows the peer's address.)
        network = n0.p2p.host.get_network()
        for _ in range(8):
            before = set(network.get_connections(ID.from_base58(other.peer_id)))
            n0.p2p.peers.disconnect(other.peer_id)
            await wait_for(lambda before=before: not before & set(network.get_connections(ID.from_base58(other.peer_id))),
                           "the node to close its connection")
            assert await other.connect(p2p_addr(n0))  # (drops what it still holds, if the node redialled first)
            await other.wait_mesh(target)
            await wait_for(lambda: subscribed(n0, other.peer_id) and registered(n0, other.peer_id),
                           "the node to hear the reconnected peer's subscription")
