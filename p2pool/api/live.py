"""The live push channel: ``LiveFeed.publish(kind, data)`` reaches every client of ``/api/ws`` and ``/api/events``.

Each message is one JSON object ``{"kind", "seq", "data"}`` (``seq`` counts up from 1 per feed). A client
first gets ``{"kind": "hello", "seq": N, "data": {}}``, N being the last message before it joined. Each
client has a bounded queue; one that falls ``queue_size`` messages behind is dropped (its WebSocket
closed with 1013, its SSE stream ended after an ``event: dropped``), never buffered without bound. At
most ``max_clients`` clients at once; more are refused. ``publish`` never blocks: call it from the
node's trio thread whenever something happens. The routes find the feed as ``app.state.feed``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import trio
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from p2pool.api.routes import ERROR, Operation, Reply

log = logging.getLogger("otedama.api")

KEEPALIVE_SECONDS = 15.0


class FeedFull(Exception):
    """The feed already has ``max_clients`` clients."""


@dataclass(frozen=True)
class LiveMessage:
    kind: str
    seq: int
    text: str  # the whole message as JSON


def _message(kind: str, seq: int, data: Mapping[str, Any]) -> LiveMessage:
    return LiveMessage(kind, seq, json.dumps({"kind": kind, "seq": seq, "data": data}, separators=(",", ":"),
                                             default=str))


class Subscription:
    """One client's queue. Iterate it for messages; it ends once closed, or dropped for lagging
    (``dropped`` is then True, after the messages already queued)."""

    def __init__(self, queue_size: int, on_close: Callable[[Subscription], None]) -> None:
        self._send, self._receive = trio.open_memory_channel[LiveMessage](queue_size)
        self._on_close = on_close
        self.dropped = False

    def __aiter__(self) -> AsyncIterator[LiveMessage]:
        return self._receive.__aiter__()

    async def receive(self) -> LiveMessage:
        """The next message; raises ``trio.EndOfChannel`` once dropped and drained."""
        return await self._receive.receive()

    def offer(self, message: LiveMessage) -> bool:
        """Queue ``message``; False (and the subscription ended) when the queue is full or closed."""
        try:
            self._send.send_nowait(message)
        except trio.WouldBlock:
            self.dropped = True
            self._send.close()
            return False
        except trio.ClosedResourceError:
            return False
        return True

    def close(self) -> None:
        self._send.close()
        self._receive.close()
        self._on_close(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class LiveFeed:
    def __init__(self, *, queue_size: int = 256, max_clients: int = 64) -> None:
        if queue_size < 1 or max_clients < 1:
            raise ValueError("queue_size and max_clients must be at least 1")
        self.queue_size = queue_size
        self.max_clients = max_clients
        self.seq = 0
        self.dropped = 0  # clients dropped for lagging, since start
        self._subscriptions: set[Subscription] = set()

    @property
    def clients(self) -> int:
        return len(self._subscriptions)

    def publish(self, kind: str, data: Mapping[str, Any]) -> None:
        """Send ``data`` (JSON-serialisable) as a ``kind`` message to every client; drops clients that lag."""
        self.seq += 1
        message = _message(kind, self.seq, data)
        for subscription in list(self._subscriptions):
            if not subscription.offer(message):
                self._subscriptions.discard(subscription)
                self.dropped += 1
                log.info("live feed: dropped a client %d messages behind", self.queue_size)

    def subscribe(self) -> Subscription:
        """A new client's subscription (close it, or use it as a ``with`` block); :class:`FeedFull` past
        ``max_clients``."""
        if len(self._subscriptions) >= self.max_clients:
            raise FeedFull(f"the live feed already has {self.max_clients} clients")
        subscription = Subscription(self.queue_size, self._subscriptions.discard)
        self._subscriptions.add(subscription)
        subscription.offer(_message("hello", self.seq, {}))
        return subscription


async def websocket(socket: WebSocket) -> None:
    """Every live message as one text frame of JSON."""
    feed: LiveFeed = socket.app.state.feed
    try:
        subscription = feed.subscribe()
    except FeedFull as exc:
        await socket.accept()  # then close, so that the client is told why (a refused handshake says only 403)
        await socket.close(code=1013, reason=str(exc))
        return
    with subscription:
        await socket.accept()
        await _pump_websocket(socket, subscription)


async def events(request: Request) -> Response:
    """Every live message as a server-sent event: ``event:`` its kind, ``id:`` its seq, ``data:`` the JSON."""
    feed: LiveFeed = request.app.state.feed
    try:
        subscription = feed.subscribe()
    except FeedFull as exc:
        return JSONResponse({"error": str(exc)}, 503)
    return StreamingResponse(_sse(subscription), media_type="text/event-stream", headers={"cache-control": "no-store"},
                             background=BackgroundTask(subscription.close))


async def _pump_websocket(socket: WebSocket, subscription: Subscription) -> None:
    async with trio.open_nursery() as nursery:

        async def watch_close() -> None:
            try:
                while True:
                    await socket.receive_text()  # clients have nothing to say; this notices them leave
            except (WebSocketDisconnect, RuntimeError, KeyError):
                pass
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch_close)
        try:
            async for message in subscription:
                await socket.send_text(message.text)
            if subscription.dropped:
                await socket.close(code=1013, reason="too slow: fell behind the live feed")
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        nursery.cancel_scope.cancel()


async def _sse(subscription: Subscription) -> AsyncIterator[str]:
    try:
        while True:
            message: LiveMessage | None = None
            ended = False
            with trio.move_on_after(KEEPALIVE_SECONDS):
                try:
                    message = await subscription.receive()
                except (trio.EndOfChannel, trio.ClosedResourceError):
                    ended = True
            if ended:
                if subscription.dropped:
                    yield "event: dropped\ndata: {}\n\n"
                return
            if message is None:
                yield ": keep-alive\n\n"
            else:
                yield f"event: {message.kind}\nid: {message.seq}\ndata: {message.text}\n\n"
    finally:
        subscription.close()


EVENTS = Operation("GET", "/api/events", events, ("live",), {
    200: Reply("server-sent events", media="text/event-stream"),
    503: Reply("too many live clients", ERROR),
}, head=False)
WEBSOCKET = WebSocketRoute("/api/ws", websocket)  # (OpenAPI does not describe WebSockets: the app's description does)
