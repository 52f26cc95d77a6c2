"""The TCP socket under a libp2p connection, reached by one fixed path through libp2p's layers.

libp2p 0.8.1 can leave a connection's socket open (a close cancelled half-way); the host and the
dial tracker close such sockets themselves, and both find them here.
"""

from __future__ import annotations

import trio
from libp2p.abc import INetConn

# The attributes that lead from a libp2p connection to its TCP socket: swarm connection -> yamux ->
# noise session -> noise framing -> raw connection -> libp2p's trio stream -> trio.SocketStream.
_PATH_TO_SOCKET = ("muxed_conn", "secured_conn", "conn", "read_writer", "read_write_closer", "stream", "stream")


def close_sockets(connections: list[INetConn]) -> int:
    """Close the TCP sockets under ``connections`` that are still open; returns how many were.

    libp2p 0.8.1 marks a connection closed before it closes the layers beneath, so a close that is
    cancelled half-way (a timeout, a node shutting down) leaves the socket open and the connection
    unclosable: only the garbage collector would ever close it. Closing the socket itself is what
    remains; libp2p's readers then see a closed resource and end.
    """
    closed = 0
    for connection in connections:
        stream = connection_socket(connection)
        if stream is not None and stream.socket.fileno() != -1:
            stream.socket.close()
            closed += 1
    return closed


def connection_socket(connection: object) -> trio.SocketStream | None:
    """The TCP stream under a libp2p connection, or None (see ``_PATH_TO_SOCKET``)."""
    layer: object | None = connection
    for name in _PATH_TO_SOCKET:
        layer = getattr(layer, name, None)
    return layer if isinstance(layer, trio.SocketStream) else None
