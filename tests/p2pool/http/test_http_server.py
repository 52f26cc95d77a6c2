"""serve_http over real TCP on 127.0.0.1: httpx for well-formed traffic, raw sockets for hostile input."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import trio

from p2pool.http.server import HttpLimits, Request, Response, serve_http


async def echo(request: Request) -> Response:
    if request.path == "/boom":
        raise RuntimeError("handler bug")
    if request.path == "/slow":
        await trio.sleep(0.05)
    payload = {
        "method": request.method, "path": request.path, "query": dict(request.query),
        "body": request.body.decode(), "x-test": request.headers.get("x-test"), "remote": request.remote,
    }
    return Response.json(payload, headers=(("x-served-by", "otedama"),))


async def start(nursery: trio.Nursery, limits: HttpLimits) -> int:
    return await nursery.start(lambda task_status: serve_http(echo, "127.0.0.1", 0, limits=limits,
                                                              task_status=task_status))


@pytest.fixture
async def port(nursery: trio.Nursery) -> AsyncIterator[int]:
    yield await start(nursery, HttpLimits(max_body=1000, max_header=2000, request_timeout=5.0))


async def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        out = bytearray()
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                out += chunk
    return bytes(out)


async def test_get_with_query_and_headers(port: int) -> None:
    assert port > 0
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{port}/a/b?x=1&y=two&empty=", headers={"X-Test": "yes"})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["x-served-by"] == "otedama"
    body = reply.json()
    assert body["method"] == "GET"
    assert body["path"] == "/a/b"
    assert body["query"] == {"x": "1", "y": "two", "empty": ""}
    assert body["x-test"] == "yes"
    assert body["remote"].startswith("127.0.0.1:")


async def test_post_body_and_keep_alive(port: int) -> None:
    async with httpx.AsyncClient() as client:
        replies = [await client.post(f"http://127.0.0.1:{port}/rpc", content=f"body {i}".encode()) for i in range(3)]
    assert [r.json()["body"] for r in replies] == ["body 0", "body 1", "body 2"]


async def test_pipelined_requests_on_one_connection(port: int) -> None:
    request = b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    out = await raw_exchange(port, request)
    assert out.count(b"HTTP/1.1 200 ") == 2  # Hypercorn sends no reason phrase (optional in HTTP/1.1)
    assert out.index(b'"/one"') < out.index(b'"/two"')


async def test_malformed_request_gets_400_and_server_keeps_serving(port: int) -> None:
    out = await raw_exchange(port, b"THIS IS NOT HTTP\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ")
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/after")).status_code == 200


async def test_declared_oversized_body_gets_413(port: int) -> None:
    out = await raw_exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413 ")


async def test_chunked_oversized_body_gets_413(port: int) -> None:
    chunk = b"200\r\n" + b"a" * 0x200 + b"\r\n"
    out = await raw_exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3)
    assert out.startswith(b"HTTP/1.1 413 ")


async def test_body_at_the_limit_is_accepted(port: int) -> None:
    async with httpx.AsyncClient() as client:
        reply = await client.post(f"http://127.0.0.1:{port}/", content=b"z" * 1000)
    assert reply.status_code == 200
    assert len(reply.json()["body"]) == 1000


async def test_oversized_headers_get_431(port: int) -> None:
    out = await raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431 ")


async def test_handler_exception_gives_500_and_server_stays_up(port: int, caplog: pytest.LogCaptureFixture) -> None:
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{port}/boom")
        assert reply.status_code == 500
        assert (await client.get(f"http://127.0.0.1:{port}/fine")).status_code == 200
    assert "handler bug" in caplog.text


async def test_head_has_no_body(port: int) -> None:
    out = await raw_exchange(port, b"HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"content-length: " in head.lower()
    assert rest == b""


async def test_idle_connection_is_closed(nursery: trio.Nursery) -> None:
    port = await start(nursery, HttpLimits(request_timeout=0.2))
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        with trio.fail_after(10):
            assert await stream.receive_some(100) == b""


async def test_concurrent_clients(port: int) -> None:
    results: list[int] = []

    async def one(i: int) -> None:
        async with httpx.AsyncClient() as client:
            reply = await client.get(f"http://127.0.0.1:{port}/slow?i={i}")
            results.append(int(reply.json()["query"]["i"]))

    async with trio.open_nursery() as n:
        for i in range(10):
            n.start_soon(one, i)
    assert sorted(results) == list(range(10))


def test_response_helpers() -> None:
    reply = Response.json({"a": 1}, status=201)
    assert (reply.status, json.loads(reply.body), reply.content_type) == (201, {"a": 1}, "application/json")
    assert Response.text("hi").body == b"hi"
