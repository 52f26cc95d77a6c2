"""One handler coroutine served over HTTP: a :class:`Request` in, a :class:`Response` out.

For services that are a single dispatch function (the devchain's JSON-RPC); the node's API is a
Starlette app (:mod:`p2pool.api`). Both are served by :func:`p2pool.http.serve.serve_asgi`, so both
get its bounds: oversized requests get 413 or 431, malformed ones 400, and a handler that raises
gets 500 while the server keeps serving.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import trio

from p2pool.http.limits import DEFAULT_LIMITS, HttpLimits, Message, Receive, Scope, Send
from p2pool.http.serve import TlsFiles, serve_asgi

log = logging.getLogger(__name__)

__all__ = ["Handler", "HttpLimits", "Request", "Response", "handler_app", "serve_http"]


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


def handler_app(handler: Handler) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app that answers every HTTP request with ``handler``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        request = await _request(scope, receive)
        try:
            response = await handler(request)
        except Exception:
            log.exception("HTTP handler failed on %s %s", request.method, request.path)
            response = Response.text("internal server error\n", 500)
        headers = [(b"content-type", response.content_type.encode("latin-1")),
                   (b"content-length", str(len(response.body)).encode())]
        headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if request.method == "HEAD" else response.body})

    return app


async def _request(scope: Scope, receive: Receive) -> Request:
    body = bytearray()
    while True:
        message: Message = await receive()
        body += message.get("body", b"")
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    client = scope.get("client")
    return Request(
        method=scope["method"],
        path=scope["path"],
        query=dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)),
        headers=headers,
        body=bytes(body),
        remote=f"{client[0]}:{client[1]}" if client else "",
    )


async def serve_http(
    handler: Handler,
    host: str,
    port: int,
    *,
    limits: HttpLimits = DEFAULT_LIMITS,
    tls: TlsFiles | None = None,
    what: str = "HTTP",
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``handler`` on ``host:port`` until cancelled; ``started()`` reports the bound port (0 = any free).

    ``what`` names the server in the error raised when it cannot listen (``"the dev chain's RPC (--rpc)"``).
    """
    await serve_asgi(handler_app(handler), host, port, limits=limits, tls=tls, what=what, task_status=task_status)
