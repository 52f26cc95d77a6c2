"""Bounds on what one HTTP client may make us spend, and the ASGI middleware that enforces the per-request ones.

Connection counts and slow readers are bounded by the transport (:mod:`p2pool.http.serve`); header
and body sizes, the time to deliver a body and the request rate per client address are checked here,
before the application sees the request, so every ASGI app served by :func:`serve_asgi` gets them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import trio

from p2pool.ratelimit import RateLimiter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class HttpLimits:
    """What one client may send, how long it may take, and how many connections it may hold."""

    max_body: int = 4 * 1024 * 1024
    max_header: int = 16 * 1024
    # Seconds a connection may stay idle (keep-alive, or before its request line and headers are complete),
    # and seconds a request may take to deliver its body once its headers are in.
    request_timeout: float = 60.0
    # Seconds a client may take to read what we send before the connection is dropped.
    send_timeout: float = 60.0
    max_connections: int = 512
    # The default bounds no single address below the total: local services (the devchain's RPC) serve many
    # nodes from 127.0.0.1. The node's API sets its own (p2pool/api/server.py).
    max_connections_per_client: int = 512
    # Requests per second each client address may make after a burst (None: no rate bound).
    rate: float | None = None
    burst: float = 100.0


DEFAULT_LIMITS = HttpLimits()


def header_size(scope: Scope) -> int:
    """Bytes of the request target and headers, as sent (give or take the separators)."""
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    return size + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


async def send_error(send: Send, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """A JSON error response that also closes the connection (the request may not have been read)."""
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Refuses oversized headers (431) and bodies (413), slow bodies (408) and, when ``rate`` is set, clients
    over their request rate (429, with ``Retry-After``). The body is read in full, within its bounds, before the
    app runs, then handed to it unchanged, so an app never sees half a request (all ours are small JSON)."""

    def __init__(self, app: ASGIApp, limits: HttpLimits, *, clock: Callable[[], float] = trio.current_time) -> None:
        self.app = app
        self.limits = limits
        self._clock = clock
        self.rate = RateLimiter(limits.rate, limits.burst) if limits.rate else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": refusal[1]})
            else:
                await send_error(send, *refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        messages = await self._read_body(scope, receive, send)
        if messages is not None:
            await self.app(scope, _replay(messages, receive), send)

    def _refusal(self, scope: Scope) -> tuple[int, str, tuple[tuple[bytes, bytes], ...]] | None:
        if header_size(scope) > self.limits.max_header:
            return 431, f"request headers over {self.limits.max_header} bytes", ()
        if self.rate is not None:
            client, now = client_address(scope), self._clock()
            if not self.rate.allow(client, now):
                wait = max(1, round((1 - self.rate.tokens(client, now)) / self.rate.rate + 0.5))
                return 429, "too many requests: slow down", ((b"retry-after", str(wait).encode()),)
        return None

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> list[Message] | None:
        """The request's messages up to the end of its body; None once a refusal has been sent."""
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    await send_error(send, 400, "bad content-length")
                    return None
                if int(value) > self.limits.max_body:
                    await send_error(send, 413, f"request body over {self.limits.max_body} bytes")
                    return None
        messages: list[Message] = []
        size = 0
        with trio.move_on_after(self.limits.request_timeout):
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    return messages
                size += len(message.get("body", b""))
                if size > self.limits.max_body:
                    await send_error(send, 413, f"request body over {self.limits.max_body} bytes")
                    return None
                if not message.get("more_body", False):
                    return messages
        await send_error(send, 408, f"request body not received within {self.limits.request_timeout:g} s")
        return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
