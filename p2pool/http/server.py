"""A small HTTP/1.1 server on trio and h11: keep-alive, bounded requests, one handler coroutine.

The handler gets a :class:`Request` and returns a :class:`Response`. Malformed requests get 400,
oversized ones 413 or 431, and a handler that raises gets 500 while the server keeps serving.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import h11
import trio

from p2pool.listen import open_listeners

log = logging.getLogger(__name__)

_READ_SIZE = 65536


@dataclass(frozen=True)
class Request:
    """One HTTP request; header names are lower case (repeated headers joined with ', ')."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    remote: str = ""


@dataclass(frozen=True)
class Response:
    """What a handler returns; Content-Length and Content-Type are added by the server."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> Response:
        return cls(status, json.dumps(obj).encode(), "application/json", headers)

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode())


Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class HttpLimits:
    """Bounds on what one client may send and how long an idle connection is kept."""

    max_body: int = 4 * 1024 * 1024
    max_header: int = 16 * 1024
    # Seconds a connection may take to deliver a complete request (idle keep-alive time included).
    request_timeout: float = 60.0


class _TooLarge(Exception):
    pass


@dataclass
class _Connection:
    stream: trio.SocketStream
    handler: Handler
    limits: HttpLimits
    remote: str
    conn: h11.Connection = field(init=False)

    def __post_init__(self) -> None:
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header)

    async def run(self) -> None:
        try:
            while await self._serve_one():
                self.conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
            pass
        except Exception:
            log.exception("HTTP connection from %s failed", self.remote)
        finally:
            await self.stream.aclose()

    async def _next_event(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.stream.receive_some(_READ_SIZE)
            self.conn.receive_data(data)

    async def _serve_one(self) -> bool:
        """Read one request and answer it; False when the connection should close."""
        request = None
        with trio.move_on_after(self.limits.request_timeout):
            try:
                request = await self._read_request()
            except h11.RemoteProtocolError as exc:
                await self._send_error(exc.error_status_hint, f"bad request: {exc}")
                return False
            except _TooLarge:
                await self._send_error(413, f"request body over {self.limits.max_body} bytes")
                return False
        if request is None:
            return False
        try:
            response = await self.handler(request)
        except Exception:
            log.exception("HTTP handler failed on %s %s", request.method, request.path)
            response = Response.text("internal server error\n", 500)
        await self._send(response, head=request.method == "HEAD")
        return self.conn.our_state is not h11.MUST_CLOSE

    async def _read_request(self) -> Request | None:
        event = await self._next_event()
        if isinstance(event, h11.ConnectionClosed):
            return None
        assert isinstance(event, h11.Request), event
        if len(event.target) + sum(len(n) + len(v) + 4 for n, v in event.headers) > self.limits.max_header:
            raise h11.RemoteProtocolError("request headers too large", error_status_hint=431)
        headers: dict[str, str] = {}
        for name, value in event.headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.limits.max_body:
            raise _TooLarge
        body = bytearray()
        while True:
            part = await self._next_event()
            if isinstance(part, h11.EndOfMessage):
                break
            if isinstance(part, h11.Data):
                body += part.data
                if len(body) > self.limits.max_body:
                    raise _TooLarge
        target = urlsplit(event.target.decode("latin-1"))
        return Request(
            method=event.method.decode("ascii"),
            path=target.path,
            query=dict(parse_qsl(target.query, keep_blank_values=True)),
            headers=headers,
            body=bytes(body),
            remote=self.remote,
        )

    async def _send(self, response: Response, head: bool = False) -> None:
        headers = [("content-type", response.content_type), ("content-length", str(len(response.body)))]
        headers += list(response.headers)
        try:
            reason = HTTPStatus(response.status).phrase.encode()
        except ValueError:
            reason = b""
        out = self.conn.send(h11.Response(status_code=response.status, headers=headers, reason=reason))
        if response.body and not head:
            out += self.conn.send(h11.Data(data=response.body))
        out += self.conn.send(h11.EndOfMessage())
        await self.stream.send_all(out)

    async def _send_error(self, status: int, message: str) -> None:
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = (message + "\n").encode()
        headers = [("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(body))),
                   ("connection", "close")]
        try:
            out = self.conn.send(h11.Response(status_code=status, headers=headers))
            out += self.conn.send(h11.Data(data=body)) + self.conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            return
        await self.stream.send_all(out)


async def serve_http(
    handler: Handler,
    host: str,
    port: int,
    *,
    limits: HttpLimits = HttpLimits(),
    what: str = "HTTP",
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``handler`` on ``host:port`` until cancelled; ``started()`` reports the bound port (0 = any free).

    ``what`` names the server in the error raised when it cannot listen (``"the API (--api)"``).
    """
    listeners = await open_listeners(host, port, what)
    bound = listeners[0].socket.getsockname()[1]

    async def on_connection(stream: trio.SocketStream) -> None:
        try:
            peer = stream.socket.getpeername()
            remote = f"{peer[0]}:{peer[1]}"
        except OSError:
            remote = ""
        await _Connection(stream, handler, limits, remote).run()

    log.debug("HTTP server listening on %s:%d", host, bound)
    task_status.started(bound)
    await trio.serve_listeners(on_connection, listeners)  # type: ignore[arg-type]
