"""Serves an ASGI app with Hypercorn's trio worker, inside the caller's nursery.

``await nursery.start(serve_asgi, app, host, port)`` returns the bound port once the socket listens.
Hypercorn speaks HTTP/1.1, HTTP/2 and WebSocket; around its per-connection ``TCPServer`` this module
adds what Hypercorn's own accept loop lacks: a bound on connections (in all and per client address,
past which a client gets 503), a deadline on each write (a client that stops reading is dropped, even
though Hypercorn shields its writes from cancellation), TLS from certificate and key files, and a
:class:`~p2pool.listen.ListenError` (one line naming what could not listen where, and why). Header, body and rate bounds
are :class:`~p2pool.http.limits.RequestLimits`, wrapped around every app here.
"""

from __future__ import annotations

import logging
import ssl
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import trio
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config
from hypercorn.events import Event, Updated
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState

from p2pool.http.limits import DEFAULT_LIMITS, ASGIApp, HttpLimits, RequestLimits
from p2pool.listen import open_listeners
from p2pool.tls import TlsFiles

__all__ = ["TlsFiles", "hypercorn_config", "serve_asgi"]

log = logging.getLogger("otedama.http")

_ALPN = ("h2", "http/1.1")
_REFUSED_BODY = b'{"error": "too many connections"}'
_REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(_REFUSED_BODY), _REFUSED_BODY))


class _DeadlineStream(trio.abc.HalfCloseableStream):
    """A socket stream whose writes must finish within ``timeout`` seconds, or it is closed."""

    def __init__(self, inner: trio.SocketStream, timeout: float) -> None:
        self.inner = inner
        self.timeout = timeout
        self.socket = inner.socket

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        with trio.move_on_after(self.timeout) as scope:
            await self.inner.send_all(data)
        if scope.cancelled_caught:
            await trio.aclose_forcefully(self.inner)
            raise trio.BrokenResourceError(f"client did not read for {self.timeout:g} s")

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()


class _TCPServer(TCPServer):
    """Hypercorn's connection handler, ending as soon as the client has gone: its keep-alive timer
    would otherwise hold the finished connection (and its place under the bounds) until it fires."""

    _gone = False

    async def _read_data(self) -> None:
        await super()._read_data()
        self._gone = True
        await self.idle_task.stop()

    async def protocol_send(self, event: Event) -> None:
        if self._gone and isinstance(event, Updated):
            return  # a response finishing after the client left would restart the keep-alive timer
        await super().protocol_send(event)


def hypercorn_config(limits: HttpLimits) -> Config:
    config = Config()
    config.h11_max_incomplete_size = limits.max_header
    config.h2_max_header_list_size = limits.max_header
    config.keep_alive_timeout = limits.request_timeout
    # No read_timeout: it would cut WebSocket and SSE clients, who have nothing to say. Requests are bounded
    # by keep_alive_timeout (until their headers are in) and RequestLimits (their body).
    config.read_timeout = None
    config.ssl_handshake_timeout = min(limits.request_timeout, 10.0)
    config.websocket_max_message_size = 64 * 1024
    config.include_server_header = False
    config.accesslog = None
    config.errorlog = log
    return config


async def serve_asgi(app: ASGIApp, host: str, port: int, *, limits: HttpLimits = DEFAULT_LIMITS,
                     tls: TlsFiles | None = None, what: str = "HTTP",
                     task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve ``app`` on ``host:port`` (0: any free port) until cancelled; ``started()`` gets the bound port.

    An address that cannot be had ends as one :class:`~p2pool.listen.ListenError` naming ``what``."""
    ssl_context = tls.context(_ALPN) if tls else None
    listeners = await open_listeners(host, port, what)
    wrapped = ASGIWrapper(RequestLimits(app, limits))  # type: ignore[arg-type]
    server = partial(_TCPServer, wrapped, hypercorn_config(limits), WorkerContext(None))
    bound = listeners[0].socket.getsockname()[1]
    log.debug("HTTP%s server listening on %s:%d", "S" if tls else "", host, bound)
    task_status.started(bound)
    handler = _ConnectionHandler(server, limits, ssl_context)
    await trio.serve_listeners(handler, listeners)


class _ConnectionHandler:
    """Counts connections, refuses those over the bounds, and hands the rest to Hypercorn."""

    def __init__(self, server: Callable[..., _TCPServer], limits: HttpLimits, ssl_context: ssl.SSLContext | None):
        self.server = server
        self.limits = limits
        self.ssl_context = ssl_context
        self.total = 0
        self.per_client: Counter[str] = Counter()

    async def __call__(self, stream: trio.SocketStream) -> None:
        try:
            client = str(stream.socket.getpeername()[0])
        except OSError:
            await trio.aclose_forcefully(stream)
            return
        if self.total >= self.limits.max_connections or self.per_client[client] >= self.limits.max_connections_per_client:
            await self._refuse(stream)
            return
        self.total += 1
        self.per_client[client] += 1
        timed = _DeadlineStream(stream, self.limits.send_timeout)
        transport: Any = timed
        if self.ssl_context is not None:
            transport = trio.SSLStream(timed, self.ssl_context, server_side=True, https_compatible=True)
        try:
            await self.server(ConnectionState({}), transport)
        finally:
            self.total -= 1
            self.per_client[client] -= 1
            if not self.per_client[client]:
                del self.per_client[client]
            await trio.aclose_forcefully(stream)

    async def _refuse(self, stream: trio.SocketStream) -> None:
        """Say 503 (plain HTTP only), then read what the client sent before closing, so that the close
        does not reset the connection under the answer."""
        log.debug("HTTP connection refused: %d connections open", self.total)
        if self.ssl_context is None:
            with trio.move_on_after(1):
                try:
                    await stream.send_all(_REFUSED)
                    await stream.send_eof()
                    drained = 0
                    while drained < 65536 and (data := await stream.receive_some(65536)):
                        drained += len(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
        await trio.aclose_forcefully(stream)
