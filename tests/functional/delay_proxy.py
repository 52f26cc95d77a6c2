"""A TCP proxy on 127.0.0.1 that adds a fixed one-way delay: each chunk read from one side is written
to the other ``delay`` seconds after it arrived, in order, whatever the pace of the writes.

Each direction is a reader that stamps chunks with their due time and puts them on a bounded queue
(back-pressure instead of unbounded memory), and a writer that waits until each chunk is due: one
wait per chunk, not per byte, and a chunk read while earlier ones wait is not delayed twice. An
end of stream travels through the queue too, so a half-close arrives after the data before it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import trio

_CHUNK = 65536
_QUEUE = 1024  # chunks in flight per direction before the reader waits


@dataclass
class ProxyStats:
    """Bytes forwarded and connections seen, for a benchmark to show the proxy carried the traffic."""

    connections: int = 0
    bytes_forwarded: int = 0


async def _read(source: trio.SocketStream, queue: trio.MemorySendChannel[tuple[float, bytes]],
                delay: float) -> None:
    async with queue:
        while True:
            try:
                data = await source.receive_some(_CHUNK)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            await queue.send((trio.current_time() + delay, data))
            if not data:
                return


async def _write(queue: trio.MemoryReceiveChannel[tuple[float, bytes]], sink: trio.SocketStream,
                 stats: ProxyStats) -> None:
    async with queue:
        async for due, data in queue:
            await trio.sleep_until(due)
            if not data:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await sink.send_eof()
                return
            await sink.send_all(data)
            stats.bytes_forwarded += len(data)


async def _pump(source: trio.SocketStream, sink: trio.SocketStream, delay: float, stats: ProxyStats) -> None:
    send, receive = trio.open_memory_channel[tuple[float, bytes]](_QUEUE)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_read, source, send, delay)
        nursery.start_soon(_write, receive, sink, stats)


async def _relay(client: trio.SocketStream, target_port: int, delay: float, stats: ProxyStats) -> None:
    stats.connections += 1
    async with client:
        try:
            upstream = await trio.open_tcp_stream("127.0.0.1", target_port)
        except OSError:
            return
        async with upstream:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_pump, client, upstream, delay, stats)
                    nursery.start_soon(_pump, upstream, client, delay, stats)
            except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass  # one side went away: both close


async def serve_delay_proxy(target_port: int, delay: float, stats: ProxyStats | None = None, *,
                            task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Listen on 127.0.0.1 (an ephemeral port, given to ``task_status.started``) and forward every
    connection to ``127.0.0.1:target_port`` with ``delay`` seconds added each way; runs until cancelled."""
    counts = stats if stats is not None else ProxyStats()
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]

    async def handle(stream: trio.SocketStream) -> None:
        await _relay(stream, target_port, delay, counts)

    async with trio.open_nursery() as nursery:
        task_status.started(port)
        await trio.serve_listeners(handle, listeners, handler_nursery=nursery)
