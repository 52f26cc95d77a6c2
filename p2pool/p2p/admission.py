"""The inbound path of the libp2p host, ours rather than libp2p's: every accepted TCP connection is
asked about (:class:`Gate`) before its handshake, once its peer ID is known, and when it ends.

Why not libp2p 0.8.1's own: its inbound handler holds a slot of its inbound limiter (sized
``max_connections - min_connections``) until the *swarm* stops, not until the connection closes, so
after that many inbound connections over the node's life every new one is refused before its
handshake (measured: a host with 20 slots refused every dial from the 21st on); a peer redialling
every 250 ms would make a node unreachable within 15 s. Its handler also knows no per-address limit.
This one negotiates the same layers (Noise, then yamux, through the swarm's upgrader) and hands the
connection to the swarm as libp2p's would (``add_conn``).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import trio
from libp2p.abc import IHost, IMuxedConn, INetConn, IRawConnection, ISecureConn
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.connection.raw_connection import RawConnection

log = logging.getLogger("otedama.p2p.admission")


class Gate(Protocol):
    """What the inbound path asks (the peer manager answers, from :mod:`p2pool.p2p.limits`)."""

    handshake_timeout: float

    def accept(self, ip: str, port: int) -> int | None:
        """A TCP connection from ``ip:port`` was accepted: its key, or None to close it at once."""

    def secured(self, key: int, peer: str) -> bool:
        """Its security handshake named ``peer``: False closes it."""

    def upgraded(self, key: int, muxed: IMuxedConn) -> None:
        """It is multiplexed and about to be handed to the swarm (whose "connected" event follows)."""

    def failed(self, key: int) -> None:
        """Its handshake failed or took too long (before ``upgraded``)."""

    def released(self, key: int) -> None:
        """It was refused or failed: nothing of it remains (called once, after ``failed`` if any)."""


def install(host: IHost, gate: Gate) -> None:
    """Route the host's inbound connections through ``gate`` (before the host starts listening)."""
    swarm: Any = host.get_network()

    async def handle(read_write_closer: Any, maddr: Any) -> None:
        await _admit(swarm, gate, read_write_closer)

    # The listener's handler looks this up on the swarm for every connection it accepts.
    swarm._handle_inbound_connection = handle


async def _admit(swarm: Any, gate: Gate, read_write_closer: Any) -> None:
    remote = _remote(read_write_closer)
    key = gate.accept(*remote) if remote is not None else None
    if remote is None or key is None:
        _close_socket(read_write_closer)
        return
    raw: IRawConnection = RawConnection(read_write_closer, False)
    secured: ISecureConn | None = None
    secured_peer = upgraded = handed_over = False
    try:
        with trio.move_on_after(gate.handshake_timeout):
            secured = await swarm.upgrader.upgrade_security(raw, False)
            secured_peer = True
            if not gate.secured(key, str(secured.get_remote_peer())):
                return
            muxed = await swarm.upgrader.upgrade_connection(secured, secured.get_remote_peer())
            gate.upgraded(key, muxed)
            upgraded = True
            conn: INetConn = await swarm.add_conn(muxed, direction="inbound")
            handed_over = True
            log.debug("inbound connection from %s:%d is peer %s", *remote, conn.muxed_conn.peer_id)
        if handed_over:
            # It returns when the connection ends, or is cancelled when the host stops listening: either
            # way the socket is closed here (a cancelled close in libp2p may have left it open).
            try:
                await conn.event_closed.wait()  # type: ignore[attr-defined]  # SwarmConn's, not in INetConn
            finally:
                _close_socket(read_write_closer)
            return
        if not upgraded:
            gate.failed(key)  # the deadline passed
    except (BaseLibp2pError, OSError, trio.BrokenResourceError, trio.ClosedResourceError, ValueError) as exc:
        log.debug("inbound connection from %s:%d failed: %s", *remote, exc)
        if not secured_peer:
            gate.failed(key)
    finally:
        if not handed_over:
            # Refused or failed: nothing to say goodbye to. Closing the socket needs no await, so it
            # happens even when this task is being cancelled (a node shutting down).
            _close_socket(read_write_closer)
            gate.released(key)


def _remote(read_write_closer: Any) -> tuple[str, int] | None:
    try:
        address = read_write_closer.get_remote_address()
    except (OSError, AttributeError):
        return None
    if not isinstance(address, tuple) or len(address) < 2:
        return None
    return str(address[0]), int(address[1])


def _close_socket(read_write_closer: Any) -> None:
    """Close the TCP socket of an inbound connection (libp2p's TrioTCPStream wraps a trio.SocketStream)."""
    stream = getattr(read_write_closer, "stream", None)
    if isinstance(stream, trio.SocketStream) and stream.socket.fileno() != -1:
        stream.socket.close()
