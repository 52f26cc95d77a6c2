"""Closing connections on two real libp2p hosts on 127.0.0.1: a close that is cancelled or too slow
still closes the TCP socket, and the peer manager hears that the peer left."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import multiaddr
import trio
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.peerinfo import info_from_p2p_addr

from p2pool.p2p.banlist import BanList
from p2pool.p2p.dials import tracker_of
from p2pool.p2p.host import build_host, close_host, disconnect_peer, stop_auto_connector
from p2pool.p2p.peers import PeerConfig, PeerEvents, PeerManager
from p2pool.p2p.peerstore import AddressBook
from p2pool.p2p.sockets import close_sockets, connection_socket
from tests.functional.federation import wait_for

LISTEN = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]


@asynccontextmanager
async def two_connected_hosts() -> AsyncIterator[tuple[IHost, IHost]]:
    """``b`` dialled ``a``; both are closed (with ``close_host``) on the way out."""
    a, b = build_host(create_new_key_pair(), LISTEN), build_host(create_new_key_pair(), LISTEN)
    async with a.run(LISTEN), b.run(LISTEN):
        await stop_auto_connector(a)
        await stop_auto_connector(b)
        try:
            await b.connect(info_from_p2p_addr(a.get_addrs()[0]))
            yield a, b
        finally:
            with trio.move_on_after(5):
                await close_host(b)
            with trio.move_on_after(5):
                await close_host(a)


async def test_libp2p_leaves_the_socket_open_when_its_close_is_cancelled():
    # What the helpers below work around; if a libp2p release fixes it, this test says so.
    async with two_connected_hosts() as (a, b):
        connections = b.get_network().get_connections(a.get_id())
        assert len(connections) == 1
        with trio.move_on_after(0):
            await b.disconnect(a.get_id())
        assert close_sockets(connections) == 1
        assert close_sockets(connections) == 0  # closing twice is harmless


async def test_a_cancelled_disconnect_still_closes_the_socket_and_forgets_the_connection():
    async with two_connected_hosts() as (a, b):
        connections = b.get_network().get_connections(a.get_id())
        with trio.move_on_after(0):
            await disconnect_peer(b, a.get_id(), timeout=5)
        assert close_sockets(connections) == 0
        assert b.get_network().get_connections(a.get_id()) == []
        await wait_for(lambda: not a.get_network().get_connections(b.get_id()), "a to see the socket close")


async def test_a_slow_disconnect_is_forced_after_its_timeout():
    async with two_connected_hosts() as (a, b):
        connections = b.get_network().get_connections(a.get_id())
        assert await disconnect_peer(b, a.get_id(), timeout=0) is True
        assert close_sockets(connections) == 0
        assert b.get_network().get_connections(a.get_id()) == []


async def test_a_disconnect_in_time_is_libp2p_s_own():
    async with two_connected_hosts() as (a, b):
        connections = b.get_network().get_connections(a.get_id())
        assert await disconnect_peer(b, a.get_id(), timeout=5) is False
        assert close_sockets(connections) == 0


async def test_closing_the_host_closes_connections_a_cancelled_close_left_open():
    async with two_connected_hosts() as (a, b):
        connections = b.get_network().get_connections(a.get_id())
        with trio.move_on_after(0):
            await b.disconnect(a.get_id())  # libp2p's own close, cancelled: the socket stays open
        await close_host(b)
        assert close_sockets(connections) == 0


async def test_the_peer_manager_hears_of_a_forced_disconnect(tmp_path: Path):
    left: list[str] = []
    async with two_connected_hosts() as (a, b):
        book = AddressBook(tmp_path / "peers.sqlite")

        async def ask_peers(peer: str) -> None:
            pass

        events = PeerEvents(joined=lambda peer: None, left=left.append, ask_peers=ask_peers, banned=lambda peer: None)
        manager = PeerManager(a, BanList(tmp_path / "bans.json"), book, events, [], PeerConfig(disconnect_timeout=0))
        peer = str(b.get_id())
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(manager.run)
                await b.disconnect(a.get_id())  # dial again so that the manager sees the connection arrive
                await b.connect(info_from_p2p_addr(a.get_addrs()[0]))
                await wait_for(lambda: peer in manager.inbound, "the manager to see b")
                manager.disconnect(peer)
                await wait_for(lambda: left == [peer], "b to leave")
                assert peer not in manager.connected()
                assert a.get_network().get_connections(b.get_id()) == []
                nursery.cancel_scope.cancel()
        finally:
            book.close()


async def test_a_dialled_socket_no_connection_uses_any_more_is_closed_by_the_dial_tracker():
    """A dialled connection whose close libp2p gave up half-way and which the swarm no longer lists
    (as its clean-up leaves it when cancelled after removing it) keeps its socket open; the host's dial
    tracker closes it once the grace has passed, and every dialled socket when the host closes."""
    async with two_connected_hosts() as (a, b):
        [connection] = b.get_network().get_connections(a.get_id())
        with trio.move_on_after(0):
            await connection.close()  # cancelled: the socket stays open
        b.get_network().remove_conn(connection)
        stream = connection_socket(connection)
        assert stream is not None and stream.socket.fileno() != -1
        tracker = tracker_of(b)
        assert tracker is not None
        assert tracker.reap(trio.current_time()) == 0  # within the grace it could still be a dial in progress
        assert tracker.reap(trio.current_time() + tracker.grace + 1) == 1
        assert stream.socket.fileno() == -1
        await wait_for(lambda: not a.get_network().get_connections(b.get_id()), "a to see the socket close")


async def test_closing_the_host_passes_over_a_peer_whose_record_expired():
    # libp2p raises "peer ID is expired" from clear_addrs for a peer with a signed record whose addresses'
    # time to live ran out (seen when a node stopped in the DHT test); the host must still close.
    async with two_connected_hosts() as (a, b):
        peerstore = b.get_peerstore()
        await wait_for(lambda: a.get_id() in peerstore.peer_record_map, "b to hold a's signed record (identify)")
        data = peerstore.peer_data_map[a.get_id()]
        data.set_ttl(1)
        data.last_identified = 0  # identified long ago: expired now
        connections = b.get_network().get_connections(a.get_id())
        await close_host(b)
        assert close_sockets(connections) == 0
