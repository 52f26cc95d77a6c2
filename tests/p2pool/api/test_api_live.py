"""The live feed: the broadcast core on its own, then real WebSocket and SSE clients over TCP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import h11
import httpx
import pytest
import trio
import trio.lowlevel
import wsproto
import wsproto.events
from trio_websocket import open_websocket_url

from p2pool.api import ApiSources, LiveFeed
from p2pool.api.live import FeedFull
from tests.p2pool.api.apiserver import start_api


async def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


def decoded(subscription_messages: list[Any]) -> list[tuple[str, int, Any]]:
    return [(m["kind"], m["seq"], m["data"]) for m in (json.loads(x.text) for x in subscription_messages)]


# --- the core ------------------------------------------------------------------------------------------
async def test_every_client_gets_hello_then_every_message_in_order() -> None:
    feed = LiveFeed(queue_size=8)
    feed.publish("stats", {"hashrate": 1})
    with feed.subscribe() as first, feed.subscribe() as second:
        feed.publish("share", {"hash": "ab"})
        feed.publish("block", {"height": 7})
        for subscription in (first, second):
            got = [await subscription.receive() for _ in range(3)]
            assert decoded(got) == [("hello", 1, {}), ("share", 2, {"hash": "ab"}), ("block", 3, {"height": 7})]
        assert feed.clients == 2
    assert feed.clients == 0


async def test_a_client_that_lags_is_dropped_not_buffered() -> None:
    feed = LiveFeed(queue_size=4)
    with feed.subscribe() as slow, feed.subscribe() as quick:
        for i in range(10):
            feed.publish("share", {"n": i})
            assert decoded([await quick.receive()])[0][0] in ("hello", "share")
            if i == 0:
                assert decoded([await quick.receive()])[0][2] == {"n": 0}
        assert slow.dropped and not quick.dropped
        assert feed.clients == 1 and feed.dropped == 1
        queued = [message async for message in slow]  # what it had queued, then the end
        assert len(queued) == 4


def test_clients_are_bounded() -> None:
    feed = LiveFeed(max_clients=2)
    with feed.subscribe(), feed.subscribe(), pytest.raises(FeedFull):
        feed.subscribe()
    with feed.subscribe():
        assert feed.clients == 1


# --- over TCP ------------------------------------------------------------------------------------------
@pytest.fixture
async def served(nursery: trio.Nursery, tmp_path) -> AsyncIterator[tuple[str, LiveFeed]]:
    feed = LiveFeed(queue_size=4, max_clients=2)
    url = await start_api(nursery, ApiSources(status=dict, problems=list, metrics=bytes, feed=feed), tmp_path)
    yield url, feed


async def test_websocket_clients_get_the_messages(served: tuple[str, LiveFeed]) -> None:
    url, feed = served
    async with open_websocket_url(url.replace("http", "ws") + "/api/ws") as socket:
        assert json.loads(await socket.get_message()) == {"kind": "hello", "seq": 0, "data": {}}
        feed.publish("peer", {"id": "QmA", "event": "joined"})
        feed.publish("worker", {"name": "rig1", "event": "connected"})
        got = [json.loads(await socket.get_message()) for _ in range(2)]
        assert got == [{"kind": "peer", "seq": 1, "data": {"id": "QmA", "event": "joined"}},
                       {"kind": "worker", "seq": 2, "data": {"name": "rig1", "event": "connected"}}]
        assert feed.clients == 1
    await wait_for(lambda: feed.clients == 0, "the closed WebSocket to leave the feed")


class SseClient:
    """A minimal client of ``/api/events`` over a raw TCP stream, parsed by h11 (httpx leaves its
    generators unclosed when a stream is left before it ends)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.http = h11.Connection(h11.CLIENT)
        self.buffer = b""
        self.response: h11.Response | None = None

    @classmethod
    async def open(cls, url: str) -> SseClient:
        host, port = url.removeprefix("http://").split(":")
        client = cls(await trio.open_tcp_stream(host, int(port)))
        await client.stream.send_all(client.http.send(h11.Request(method="GET", target="/api/events",
                                                                  headers=[("host", host)])))
        while client.response is None:
            await client._receive()
        return client

    async def _receive(self) -> None:
        event = self.http.next_event()
        if event is h11.NEED_DATA:
            self.http.receive_data(await self.stream.receive_some(65536))
        elif isinstance(event, h11.Response):
            self.response = event
        elif isinstance(event, h11.Data):
            self.buffer += event.data
        else:
            raise AssertionError(f"the stream ended: {event}")

    async def event(self) -> list[str]:
        """The lines of the next event (up to its blank line)."""
        while b"\n\n" not in self.buffer:
            await self._receive()
        block, self.buffer = self.buffer.split(b"\n\n", 1)
        return block.decode().split("\n")


async def test_sse_clients_get_the_messages(served: tuple[str, LiveFeed]) -> None:
    url, feed = served
    client = await SseClient.open(url)
    async with client.stream:
        assert client.response is not None and client.response.status_code == 200
        assert dict(client.response.headers)[b"content-type"].startswith(b"text/event-stream")
        assert await client.event() == ["event: hello", "id: 0", 'data: {"kind":"hello","seq":0,"data":{}}']
        feed.publish("block", {"height": 101})
        assert await client.event() == ["event: block", "id: 1", 'data: {"kind":"block","seq":1,"data":{"height":101}}']
    await wait_for(lambda: feed.clients == 0, "the closed SSE stream to leave the feed")


async def test_clients_past_the_bound_are_refused(served: tuple[str, LiveFeed]) -> None:
    url, _ = served
    ws_url = url.replace("http", "ws") + "/api/ws"
    async with open_websocket_url(ws_url) as one, open_websocket_url(ws_url) as two:
        await one.get_message()
        await two.get_message()
        async with httpx.AsyncClient() as client:
            refused = await client.get(url + "/api/events")
        assert refused.status_code == 503 and "2 clients" in refused.json()["error"]
        assert await refused_websocket(url) == (1013, "the live feed already has 2 clients")


async def refused_websocket(url: str) -> tuple[int, str]:
    """Open ``/api/ws`` with a bare wsproto client; the close code and reason the server ends it with.
    (trio-websocket leaves its socket open when the server closes right after the handshake.)"""
    host, port = url.removeprefix("http://").split(":")
    connection = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    async with await trio.open_tcp_stream(host, int(port)) as stream:
        await stream.send_all(connection.send(wsproto.events.Request(host=host, target="/api/ws")))
        with trio.fail_after(10):
            while True:
                connection.receive_data(await stream.receive_some(65536) or None)
                for event in connection.events():
                    if isinstance(event, wsproto.events.CloseConnection):
                        return event.code, event.reason or ""


async def test_a_websocket_client_that_stops_reading_is_dropped(served: tuple[str, LiveFeed]) -> None:
    url, feed = served
    async with open_websocket_url(url.replace("http", "ws") + "/api/ws") as socket:
        await socket.get_message()
        payload = {"blob": "x" * 65536}
        with trio.fail_after(30):
            for _ in range(2000):  # socket buffers fill, then the queue of 4, then the feed lets go
                if feed.dropped:
                    break
                feed.publish("stats", payload)
                await trio.lowlevel.checkpoint()
        assert feed.dropped == 1 and feed.clients == 0


async def test_quiet_live_clients_outlast_the_request_timeout(nursery: trio.Nursery, tmp_path) -> None:
    feed = LiveFeed()
    url = await start_api(nursery, ApiSources(status=dict, problems=list, metrics=bytes, feed=feed), tmp_path,
                          limits={"request_timeout": 0.3})
    async with open_websocket_url(url.replace("http", "ws") + "/api/ws") as socket:
        sse = await SseClient.open(url)
        async with sse.stream:
            await socket.get_message()
            await sse.event()
            await trio.sleep(1.0)  # three request timeouts with nothing said either way
            feed.publish("stats", {"hashrate": 5})
            assert json.loads(await socket.get_message())["data"] == {"hashrate": 5}
            assert (await sse.event())[0] == "event: stats"
