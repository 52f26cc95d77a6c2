"""Stratum over TLS (``stratum+ssl://``) on its own port, beside plain TCP: the standard library's ssl
client mines a share; a client that does not speak TLS, or never finishes its handshake, is dropped
and the server serves the next one."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from fractions import Fraction

import trio

from p2pool.stratum.server import StratumConfig, StratumServer
from p2pool.tls import TlsFiles
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target
from tests.p2pool.stratum.stratum_vector import USER, LineClient, VectorProvider, easy_job, grind
from tests.stratum_client import mine_over
from tests.tlscert import client_context, self_signed_cert

EASY = Fraction(1, 100_000)


@asynccontextmanager
async def tls_server(tmp_path, **config: object) -> AsyncIterator[tuple[StratumServer, VectorProvider, int]]:
    cert, key = self_signed_cert(tmp_path)
    provider = VectorProvider(easy_job("e1", EASY))
    settings: dict[str, object] = {"host": "127.0.0.1", "port": 0, "initial_difficulty": float(EASY),
                                   "min_difficulty": 0.000001, "vardiff": False, **config}
    server = StratumServer(provider, StratumConfig(**settings))  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        port = await nursery.start(server.serve_tls, "127.0.0.1", 0, TlsFiles(cert, key).context())
        yield server, provider, port
        nursery.cancel_scope.cancel()


def mine_with_ssl(port: int, cert) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw, \
            client_context(cert).wrap_socket(raw, server_hostname="localhost") as tls:
        result = mine_over(tls, USER + ".tls", lambda job: difficulty_to_target(EASY), grind)
        return result.accepted


async def test_the_standard_ssl_client_mines_a_share(tmp_path):
    async with tls_server(tmp_path) as (server, provider, port):
        assert await trio.to_thread.run_sync(mine_with_ssl, port, tmp_path / "cert.pem")
        solutions = await provider.wait_for_solutions(1)
        assert solutions[0].worker == USER + ".tls"
        assert server.counts().accepted == 1


async def test_a_client_without_tls_or_a_handshake_is_dropped_and_the_next_one_served(tmp_path):
    async with tls_server(tmp_path, tls_handshake_timeout=0.5) as (server, _, port):
        plain = await trio.open_tcp_stream("127.0.0.1", port)
        await plain.send_all(b'{"id": 1, "method": "mining.subscribe", "params": []}\n')
        with trio.fail_after(10):
            while await plain.receive_some(4096):
                pass  # the server answers with a TLS alert at most, then closes
        await plain.aclose()
        silent = await trio.open_tcp_stream("127.0.0.1", port)
        with trio.fail_after(10):
            assert await silent.receive_some(4096) == b""  # closed once the handshake deadline passed
        await silent.aclose()
        assert server.connection_count == 0
        assert await trio.to_thread.run_sync(mine_with_ssl, port, tmp_path / "cert.pem")


class _BreaksWithNewWork(trio.abc.Stream):
    """A task-served connection (as TLS ones are) whose peer vanishes (a reset) just as new work comes:
    the server's fan-out is ready to run at the moment the connection's reader fails."""

    def __init__(self, inner: trio.SocketStream, server: StratumServer) -> None:
        self.inner, self.server = inner, server

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.inner.receive_some(max_bytes)
        if not data:
            self.server.new_work(clean=True)
            raise trio.BrokenResourceError("connection reset by peer")
        return data

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_task_served_connection_failing_as_new_work_comes_is_passed_by_and_the_server_lives_on(tmp_path):
    # The reader's failure ends the connection's nursery with a scheduling point before the connection
    # is forgotten; a fan-out running there once found the connection open and started its writer in the
    # closed nursery, and the error ended the server. Trio runs two ready tasks in either order, so the
    # fan-out comes first in about half of the attempts.
    provider = VectorProvider(easy_job("e1", EASY))
    server = StratumServer(provider, StratumConfig(host="127.0.0.1", port=0, vardiff=False))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve)
        for attempt in range(12):
            ours, theirs = trio.socket.socketpair()
            served = _BreaksWithNewWork(trio.SocketStream(ours), server)
            nursery.start_soon(server._serve_connection, served, f"attempt {attempt} (TLS)", "127.0.0.1")
            client = LineClient(trio.SocketStream(theirs))
            await client.call({"id": 1, "method": "mining.subscribe", "params": []})
            await client.call({"id": 2, "method": "mining.authorize", "params": [USER + f".{attempt}", "x"]})
            assert (await client.message())["method"] == "mining.set_difficulty"
            assert (await client.message())["method"] == "mining.notify"
            provider.job = easy_job(f"e{attempt + 2}", EASY)
            await client.aclose()
            with trio.fail_after(10):
                while server.connection_count:
                    await trio.sleep(0.01)
        # the server still serves: a plain miner gets the newest job
        miner = await LineClient.connect(port)
        await miner.call({"id": 1, "method": "mining.subscribe", "params": []})
        await miner.call({"id": 2, "method": "mining.authorize", "params": [USER, "x"]})
        assert (await miner.message())["method"] == "mining.set_difficulty"
        assert (await miner.message())["params"][0] == "e13"
        await miner.aclose()
        nursery.cancel_scope.cancel()
