"""serve_asgi over real TCP on 127.0.0.1: bind errors, connection bounds, slow clients, rate bound, TLS."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import httpx
import pytest
import trio

from p2pool.http.limits import HttpLimits
from p2pool.http.serve import TlsFiles, serve_asgi
from p2pool.http.server import Request, Response, handler_app
from p2pool.listen import ListenError
from tests.tlscert import client_context, self_signed_cert

BIG = 16 * 1024 * 1024


async def handler(request: Request) -> Response:
    if request.path == "/big":
        return Response(200, b"x" * BIG)
    return Response.json({"path": request.path, "body": request.body.decode()})


async def start(nursery: trio.Nursery, limits: HttpLimits, tls: TlsFiles | None = None) -> int:
    return await nursery.start(lambda task_status: serve_asgi(handler_app(handler), "127.0.0.1", 0, limits=limits,
                                                              tls=tls, task_status=task_status))


async def raw_exchange(port: int, data: bytes) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        out = bytearray()
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                out += chunk
    return bytes(out)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


async def test_a_port_in_use_is_one_clear_error(busy_port: int) -> None:
    with pytest.raises(ListenError) as caught:
        await serve_asgi(handler_app(handler), "127.0.0.1", busy_port, what="the test server")
    assert str(caught.value).startswith(f"cannot listen for the test server on 127.0.0.1:{busy_port}: "
                                        f"port {busy_port} is already in use")


async def test_connections_over_the_per_client_bound_get_503(nursery: trio.Nursery) -> None:
    port = await start(nursery, HttpLimits(max_connections_per_client=2))
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") for _ in range(2)]
    try:
        for client in clients:  # each now holds one kept-alive connection, counted by the server
            assert (await client.get("/held")).status_code == 200
        out = await raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 503 ") and b'{"error": "too many connections"}' in out
        await clients.pop().aclose()  # its place is free at once, not when the 60 s keep-alive timer would fire
        async with httpx.AsyncClient() as client:
            with trio.fail_after(10):
                while (await client.get(f"http://127.0.0.1:{port}/again")).status_code != 200:
                    await trio.sleep(0.02)
    finally:
        for client in clients:
            await client.aclose()


async def test_a_client_that_stops_reading_is_dropped(nursery: trio.Nursery) -> None:
    port = await start(nursery, HttpLimits(max_connections_per_client=1, send_timeout=0.5))
    stuck = trio.socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await stuck.connect(("127.0.0.1", port))
    with stuck:
        await stuck.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")  # 16 MiB answer, never read
        async with httpx.AsyncClient() as client:
            with trio.fail_after(20):
                while (reply := await client.get(f"http://127.0.0.1:{port}/next")).status_code == 503:
                    await trio.sleep(0.05)
        assert reply.json()["path"] == "/next"


async def test_a_request_that_never_finishes_its_headers_is_closed(nursery: trio.Nursery) -> None:
    port = await start(nursery, HttpLimits(request_timeout=0.3))
    with trio.fail_after(10):
        assert await raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ") == b""


async def test_a_body_that_never_arrives_gets_408(nursery: trio.Nursery) -> None:
    port = await start(nursery, HttpLimits(request_timeout=0.3))
    out = await raw_exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
    assert out.startswith(b"HTTP/1.1 408 ")


async def test_requests_over_the_rate_get_429(nursery: trio.Nursery) -> None:
    port = await start(nursery, HttpLimits(rate=0.5, burst=3))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        assert [(await client.get("/")).status_code for _ in range(3)] == [200, 200, 200]
        refused = await client.get("/")
    assert refused.status_code == 429
    assert refused.json() == {"error": "too many requests: slow down"}
    assert 1 <= int(refused.headers["retry-after"]) <= 2


async def test_https_with_a_self_signed_certificate(nursery: trio.Nursery, tmp_path) -> None:
    cert, key = self_signed_cert(tmp_path)
    port = await start(nursery, HttpLimits(), TlsFiles(cert, key))

    def get() -> tuple[int, bytes, str | None]:
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=client_context(cert), timeout=10)
        try:
            connection.request("POST", "/secure", body=b"over tls")
            reply = connection.getresponse()
            version = connection.sock.version() if connection.sock else None
            return reply.status, reply.read(), version
        finally:
            connection.close()

    status, body, version = await trio.to_thread.run_sync(get)
    assert status == 200 and body == b'{"path": "/secure", "body": "over tls"}'
    assert version in ("TLSv1.2", "TLSv1.3")
    # Plain HTTP on the TLS port gets no answer.
    assert not (await raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")).startswith(b"HTTP/1.1 200")


def test_unreadable_tls_files_are_one_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="cannot load the TLS certificate"):
        TlsFiles(tmp_path / "missing.pem", tmp_path / "missing.key").context()
