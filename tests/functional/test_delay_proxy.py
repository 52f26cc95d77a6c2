"""The delay proxy forwards real TCP bytes both ways, in order, each chunk no sooner than the delay
after it was sent; an end of stream follows the data. Lower bounds only: a slow machine passes."""

from __future__ import annotations

import trio

from tests.functional.delay_proxy import ProxyStats, serve_delay_proxy

DELAY = 0.2


async def _echo(stream: trio.SocketStream) -> None:
    async with stream:
        while data := await stream.receive_some(65536):
            await stream.send_all(data)
        await stream.send_eof()


async def test_bytes_arrive_in_order_and_delayed_both_ways():
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        echo_port = listeners[0].socket.getsockname()[1]
        nursery.start_soon(trio.serve_listeners, _echo, listeners)
        stats = ProxyStats()
        port = await nursery.start(serve_delay_proxy, echo_port, DELAY, stats)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        messages = [bytes([i]) * (1 + 5000 * i) for i in range(8)]
        sent_at: list[float] = []
        received = bytearray()
        arrivals: list[tuple[int, float]] = []  # (bytes received so far, when)

        async def receive() -> None:
            while data := await stream.receive_some(65536):
                received.extend(data)
                arrivals.append((len(received), trio.current_time()))

        async with stream, trio.open_nursery() as inner:
            inner.start_soon(receive)
            for message in messages:
                sent_at.append(trio.current_time())
                await stream.send_all(message)
                await trio.sleep(0.03)  # spaced sends: each must still take the whole delay, twice
            await stream.send_eof()
        nursery.cancel_scope.cancel()

    assert bytes(received) == b"".join(messages)
    ends = [sum(len(m) for m in messages[: i + 1]) for i in range(len(messages))]
    for end, sent in zip(ends, sent_at, strict=True):
        first_with_it = next(when for count, when in arrivals if count >= end)
        assert first_with_it - sent >= 2 * DELAY  # through the proxy and back
    assert stats.connections == 1 and stats.bytes_forwarded == 2 * len(received)
