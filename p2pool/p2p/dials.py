"""The TCP sockets a host opened by dialling, so that one a cancelled dial left open gets closed.

libp2p 0.8.1 cleans up nothing when an outbound dial is cancelled during its security handshake,
and during the multiplexer's its clean-up awaits a close under the cancellation, which ends it
before the socket is reached: every dial that times out or is cancelled (a node shutting down) in
its handshake leaves a TCP socket open, which the garbage collector closes some time later (a
``ResourceWarning``), and whose other end may think the connection alive. Each socket a dial
opens is noted here; one that belongs to no connection of the swarm once the handshake could
have finished (``grace``) is closed, and all are when the host closes.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import trio
from libp2p.abc import IHost

from p2pool.p2p.sockets import connection_socket

log = logging.getLogger("otedama.p2p.dials")
_TRACKERS: weakref.WeakKeyDictionary[Any, DialSockets] = weakref.WeakKeyDictionary()


class DialSockets:
    def __init__(self, host: IHost, grace: float) -> None:
        self.host = host
        self.grace = grace
        self._sockets: dict[int, tuple[trio.SocketStream, float]] = {}
        network: Any = host.get_network()
        for transport in network.transport_manager.get_transports():
            for name in ("dial", "dial_with_source"):
                original = getattr(transport, name, None)
                if original is not None:
                    setattr(transport, name, self._wrap(original))

    def _wrap(self, original: Any) -> Any:
        async def dial(*args: Any, **kwargs: Any) -> Any:
            raw = await original(*args, **kwargs)
            stream = getattr(getattr(raw, "stream", None), "stream", None)  # RawConnection -> TrioTCPStream
            if isinstance(stream, trio.SocketStream):
                self._sockets[id(stream)] = (stream, trio.current_time())
            return raw

        return dial

    def reap(self, now: float) -> int:
        """Close the dialled sockets older than ``grace`` that no connection uses; returns how many."""
        used = {id(s) for c in self.host.get_network().get_connections() if (s := connection_socket(c)) is not None}
        closed = 0
        for key, (stream, opened) in list(self._sockets.items()):
            if stream.socket.fileno() == -1:
                del self._sockets[key]
            elif key not in used and now - opened > self.grace:
                stream.socket.close()
                del self._sockets[key]
                closed += 1
        if closed:
            log.debug("closed %d sockets that cancelled dials left open", closed)
        return closed

    def close_all(self) -> int:
        closed = 0
        for stream, _ in self._sockets.values():
            if stream.socket.fileno() != -1:
                stream.socket.close()
                closed += 1
        self._sockets.clear()
        return closed


def track_dials(host: IHost, grace: float = 15.0) -> DialSockets:
    """Note every socket ``host`` dials from now on (see :class:`DialSockets`)."""
    tracker = _TRACKERS.get(host)
    if tracker is None:
        tracker = _TRACKERS[host] = DialSockets(host, grace)
    return tracker


def tracker_of(host: IHost) -> DialSockets | None:
    return _TRACKERS.get(host)
