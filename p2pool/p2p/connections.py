"""Every connection the libp2p host holds, from its first byte to its end: the decisions of
:mod:`p2pool.p2p.limits` applied to it.

Inbound connections are in the table from the moment they are accepted (the inbound path,
:mod:`p2pool.p2p.admission`, asks this object as its gate), outbound ones once up. A connection
becomes a counted peer only once it is known to speak our network's sync protocol: identify's
protocol list says so, or, when identify is late or does not list it, a stream of the protocol is
negotiated to tell for sure. One that does not speak it is announced as foreign (the peer manager
refuses its peer for a while); one that cannot tell within ``identify_timeout`` is closed. What
happens is announced through :class:`ConnectionEvents`; whom to dial, and what a peer's joining or
leaving means, is the peer manager's business.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import multiaddr
import trio
from libp2p.abc import IHost, IMuxedConn, INetConn, INetStream, INetwork, INotifee
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStoreError

from p2pool.p2p import admission
from p2pool.p2p.dials import tracker_of
from p2pool.p2p.host import close_connection, speaks
from p2pool.p2p.limits import Connection, ConnectionTable, LimitConfig, Refusal, Stage
from p2pool.p2p.network_match import announces_another

log = logging.getLogger("otedama.p2p.connections")
# Identify's own protocol: listed for a peer once identify has run with it. How long to wait for it.
_IDENTIFY = "/ipfs/id/1.0.0"
_IDENTIFY_WAIT = 2.0


@dataclass
class ConnectionEvents:
    identified: Callable[[Connection], None]  # a connection became a counted peer's
    foreign: Callable[[str], None]  # this peer does not speak our protocol
    gone: Callable[[Connection], None]  # a connection ended (the entry as it last was)
    banned: Callable[[str], bool]  # is this peer banned? (asked once its ID is known)


class _Notifee(INotifee):
    def __init__(self, send: trio.MemorySendChannel[tuple[str, INetConn]]) -> None:
        self._send = send

    def _post(self, kind: str, conn: INetConn) -> None:
        with contextlib.suppress(trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            self._send.send_nowait((kind, conn))

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._post("connected", conn)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._post("disconnected", conn)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass


class Connections:
    def __init__(self, host: IHost, limits: LimitConfig, max_inbound: int, events: ConnectionEvents, *,
                 identify_protocol: str | None, disconnect_timeout: float) -> None:
        self.host = host
        self.limits = limits
        self.events = events
        self.identify_protocol = identify_protocol
        self.disconnect_timeout = disconnect_timeout
        self.table = ConnectionTable(limits, max_inbound)
        self.handshake_timeout = limits.handshake_timeout
        self._keys = itertools.count(1)
        self._key_of: dict[int, int] = {}  # id(muxed connection) -> table key
        self._conn_of: dict[int, INetConn] = {}  # table key -> libp2p connection
        self._nursery: trio.Nursery | None = None
        self._closing: set[int] = set()  # table keys being closed here
        self._events_send, self._events_recv = trio.open_memory_channel[tuple[str, INetConn]](4096)
        host.get_network().register_notifee(_Notifee(self._events_send))
        admission.install(host, self)

    def endpoints(self) -> dict[tuple[str, int], Connection]:
        """Every connection, by the remote (IP, port) of its TCP connection."""
        return {(c.ip, c.port): c for c in self.table.connections()}

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            async for kind, conn in self._events_recv:
                if kind == "connected":
                    self._on_connected(conn)
                else:
                    key = self._key_of.get(id(conn.muxed_conn))
                    if key is not None:
                        self._gone(key)

    # --- the inbound gate (asked by p2pool.p2p.admission) -------------------------------------------------
    def accept(self, ip: str, port: int) -> int | None:
        key = next(self._keys)
        refusal = self.table.accept(key, ip, port, trio.current_time())
        if refusal is not None:
            log.debug("inbound connection from %s:%d refused: %s", ip, port, refusal.value)
            return None
        return key

    def secured(self, key: int, peer: str) -> bool:
        conn = self.table.get(key)
        if self.events.banned(peer):
            log.info("refusing banned peer %s", peer)
            self.table.closed(key)
            return False
        refusal = self.table.secured(key, peer, trio.current_time())
        if refusal is not None:
            level = logging.INFO if refusal is Refusal.INBOUND_CAP else logging.DEBUG
            log.log(level, "inbound connection from %s (%s) refused: %s", peer, conn.ip if conn else "?", refusal.value)
            return False
        return True

    def upgraded(self, key: int, muxed: IMuxedConn) -> None:
        self._key_of[id(muxed)] = key

    def failed(self, key: int) -> None:
        self.table.failed(key, trio.current_time())

    def released(self, key: int) -> None:
        self._forget(key)

    # --- keeping the table true ---------------------------------------------------------------------------
    def sweep(self, now: float) -> None:
        """Close connections still unidentified past their deadline, those with banned peers and sockets
        cancelled dials left open; forget records of connections gone without an event."""
        tracker = tracker_of(self.host)
        if tracker is not None:
            tracker.reap(now)
        for conn in self.table.overdue(now):
            log.info("connection from %s:%d (peer %s) not identified in %.0f s; closing it",
                     conn.ip, conn.port, conn.peer, self.limits.identify_timeout)
            self.close(conn.key)
        for key, libp2p_conn in list(self._conn_of.items()):
            if key not in self._closing and not libp2p_conn.is_closed \
                    and self.events.banned(str(libp2p_conn.muxed_conn.peer_id)):
                log.info("closing a connection with banned peer %s", libp2p_conn.muxed_conn.peer_id)
                self.close(key)
        live = {id(c) for c in self.host.get_network().get_connections()}
        for key, libp2p_conn in list(self._conn_of.items()):
            if id(libp2p_conn) not in live and libp2p_conn.is_closed:
                self._gone(key)

    def reconcile(self, peer: str) -> None:
        """After ``peer``'s connections were closed here (no "disconnected" event): forget those gone."""
        for key, conn in list(self._conn_of.items()):
            if str(conn.muxed_conn.peer_id) == peer and conn not in self.host.get_network().get_connections(
                    conn.muxed_conn.peer_id):
                self._gone(key)

    def close(self, key: int) -> None:
        conn = self._conn_of.get(key)
        if conn is not None and self._nursery is not None and key not in self._closing:
            self._closing.add(key)
            self._nursery.start_soon(self._close_now, key, conn)

    def close_unidentified(self, peer: str) -> None:
        """Close what is left of a dial to ``peer`` that was not identified in time."""
        for conn in self.table.connections():
            if conn.peer == peer and not conn.inbound and conn.stage is not Stage.PEER:
                self.close(conn.key)

    async def _close_now(self, key: int, conn: INetConn) -> None:
        try:
            await close_connection(self.host, conn, self.disconnect_timeout)
        finally:
            self._closing.discard(key)
        self._gone(key)

    def _gone(self, key: int) -> None:
        entry = self.table.get(key)
        self._forget(key)
        if entry is not None:
            self.events.gone(entry)

    def _forget(self, key: int) -> None:
        self.table.closed(key)
        conn = self._conn_of.pop(key, None)
        if conn is not None:
            self._key_of.pop(id(conn.muxed_conn), None)
        else:
            for muxed, value in list(self._key_of.items()):
                if value == key:
                    del self._key_of[muxed]

    # --- a new connection -----------------------------------------------------------------------------------
    def _on_connected(self, conn: INetConn) -> None:
        assert self._nursery is not None
        peer = str(conn.muxed_conn.peer_id)
        if self.events.banned(peer):
            # Banned while this connection was being made: our own dial already under way at the ban,
            # or an inbound one past the gate's check. Neither is kept.
            log.info("connection with banned peer %s closed", peer)
            key = self._key_of.get(id(conn.muxed_conn))
            if key is not None:
                self._forget(key)
            self._nursery.start_soon(close_connection, self.host, conn, self.disconnect_timeout)
            return
        if "inbound" in str(getattr(conn, "direction", "")).lower():
            key = self._key_of.get(id(conn.muxed_conn))
            if key is None or self.table.get(key) is None:  # did not come through the gate: not ours to keep
                log.warning("inbound connection from %s did not pass the admission gate; closing it", peer)
                self._nursery.start_soon(close_connection, self.host, conn, self.disconnect_timeout)
                return
        else:
            key = next(self._keys)
            ip, port = _remote(conn)
            refusal = self.table.opened(key, ip, port, peer, trio.current_time())
            if refusal is not None:
                log.info("outbound connection to %s closed: %s", peer, refusal.value)
                self._nursery.start_soon(close_connection, self.host, conn, self.disconnect_timeout)
                return
            self._key_of[id(conn.muxed_conn)] = key
        self._conn_of[key] = conn
        self._nursery.start_soon(self._identify, key, conn)

    async def _identify(self, key: int, conn: INetConn) -> None:
        """Find out whether ``conn``'s peer speaks our sync protocol (see the module's docstring)."""
        peer_id = conn.muxed_conn.peer_id
        peer = str(peer_id)
        verdict: bool | None = True
        if self.identify_protocol is not None:
            verdict = None
            with trio.move_on_after(self.limits.identify_timeout):
                listed = await self._listed(peer_id, conn)
                verdict = True if listed else await speaks(self.host, peer_id, self.identify_protocol)
            if verdict is None and self._announces_another(peer_id):
                verdict = False  # no stream could tell (it hung up, or too late), but identify did
        if verdict is False:
            # A definite answer (the peer refused our protocol), even if the connection has closed since:
            # the other end may have found us foreign first and hung up.
            self.events.foreign(peer)
            return
        entry = self.table.get(key)
        if entry is None or conn.is_closed:
            return  # gone meanwhile
        if verdict is None:
            log.info("connection with %s (%s:%d): could not tell whether it speaks our protocol; closing it", peer,
                     entry.ip, entry.port)
            self.close(key)
        elif (refusal := self.table.identified(key, trio.current_time())) is not None:
            log.info("inbound connection from %s refused: %s (%d)", peer, refusal.value, self.table.max_inbound)
            self.close(key)
        else:
            self.events.identified(entry)

    def _announces_another(self, peer: ID) -> bool:
        """Whether identify's list for ``peer`` names another Otedama sync protocol and not ours."""
        assert self.identify_protocol is not None
        try:
            protocols = self.host.get_peerstore().get_protocols(peer)
        except PeerStoreError:
            return False
        return announces_another(self.identify_protocol, protocols)

    async def _listed(self, peer: ID, conn: INetConn) -> bool:
        """Whether identify lists our protocol for ``peer``, waiting a little for it to answer."""
        with trio.move_on_after(_IDENTIFY_WAIT):
            while not conn.is_closed:
                try:
                    protocols = [str(p) for p in self.host.get_peerstore().get_protocols(peer)]
                except PeerStoreError:
                    protocols = []
                if _IDENTIFY in protocols:  # identify has answered (now or on an earlier connection)
                    return self.identify_protocol in protocols
                await trio.sleep(0.02)
        return False


def _remote(conn: INetConn) -> tuple[str, int]:
    try:
        address = conn.muxed_conn.get_remote_address()  # type: ignore[attr-defined]  # yamux's, not in IMuxedConn
    except (AttributeError, OSError):
        address = None
    if isinstance(address, tuple) and len(address) >= 2:
        return str(address[0]), int(address[1])
    return "", 0
