"""Opening a TCP listener, with a failure told as one operator-facing line instead of an OSError.

The check happens at bind time (no race with another program taking the port in between); the
error names what was being opened, the address and port, and a way out.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from p2pool.error import ConfigError


class ListenError(ConfigError):
    """A listen address that cannot be bound: in use, not this machine's, not permitted or unknown."""


async def open_listeners(host: str, port: int, what: str) -> list[trio.SocketListener]:
    """``trio.open_tcp_listeners`` for ``what`` (e.g. ``"Stratum (--stratum)"``), failures as :class:`ListenError`."""
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen for {what} on {host}:{port}: {host!r} is not a known host name or "
                          f"address ({exc.strerror}); use an address of this machine, or 0.0.0.0") from None
    except OSError as exc:
        raise ListenError(f"cannot listen for {what} on {host}:{port}: {_why(exc, port)}") from None


@asynccontextmanager
async def listening(host: str, port: int, what: str) -> AsyncIterator[tuple[list[trio.SocketListener], int]]:
    """:func:`open_listeners`, and the port they are bound to; the listeners are closed on the way out."""
    listeners = await open_listeners(host, port, what)
    try:
        yield listeners, listeners[0].socket.getsockname()[1]
    finally:
        for listener in listeners:
            listener.socket.close()


def _why(exc: OSError, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use (another node?); stop what uses it or choose another port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "that is not an address of this machine; use one of its addresses, or 0.0.0.0 for all"
    if exc.errno == errno.EACCES:
        return f"not permitted to use port {port} (ports below 1024 need privileges); choose a port above 1024"
    return f"{exc.strerror or exc}; choose another address"
