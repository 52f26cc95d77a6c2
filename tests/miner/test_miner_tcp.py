"""The built-in miner against the real trio Stratum server on 127.0.0.1, hashing for real."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from fractions import Fraction

import pytest
import trio
from miner_pool import USER, Provider, RecordingScanner, job

from kernels import available_kinds, make_scanner
from miner.miner import Miner, MinerConfig, MinerError, run_miner
from p2pool.stratum.server import StratumConfig, StratumServer
from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target

EASY = 0.00001


def stratum_config(port: int = 0, **overrides: object) -> StratumConfig:
    settings: dict[str, object] = {"host": "127.0.0.1", "port": port, "initial_difficulty": EASY,
                                   "min_difficulty": 0.000001}
    settings.update(overrides)
    return StratumConfig(**settings)  # type: ignore[arg-type]


@asynccontextmanager
async def pool(provider: Provider, port: int = 0, **overrides: object) -> AsyncIterator[tuple[StratumServer, int]]:
    server = StratumServer(provider, stratum_config(port, **overrides))
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(server.serve)
        yield server, bound
        nursery.cancel_scope.cancel()


def miner_config(port: int, **overrides: object) -> MinerConfig:
    settings: dict[str, object] = {"url": f"stratum+tcp://127.0.0.1:{port}", "user": USER, "kernel": "hashlib",
                                   "reconnect_delay": 0.05, "max_reconnect_delay": 0.2}
    settings.update(overrides)
    return MinerConfig(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("kernel", ["hashlib", "numba", "opencl"])
async def test_miner_finds_shares_the_server_accepts(kernel: str) -> None:
    if kernel not in available_kinds():
        pytest.skip(f"no {kernel} kernel here")
    provider = Provider(job("e1", Fraction(1)))
    async with pool(provider) as (server, port), trio.open_nursery() as nursery:
        config = miner_config(port, user=USER + ".builtin", kernel=kernel, threads=2)
        miner: Miner = await nursery.start(run_miner, config)
        with trio.fail_after(60):
            solutions = await provider.wait_for(3)
            while miner.accepted < 3:
                await trio.sleep(0.01)
        for solution in solutions:
            assert solution.worker == USER + ".builtin"
            assert hash_to_int(sha256d(solution.header)) <= difficulty_to_target(Fraction(str(EASY)))
            assert solution.header[76:] == solution.nonce.to_bytes(4, "little")
        assert miner.rejected == 0 and miner.hashrate > 0 and miner.connected
        stats = server.stats()
        assert stats.accepted >= 3 and [w.name for w in stats.workers] == [USER + ".builtin"]
        nursery.cancel_scope.cancel()


async def test_miner_reconnects_after_the_server_restarts() -> None:
    first = Provider(job("e1", Fraction(1)))
    async with trio.open_nursery() as outer:
        server_scope = trio.CancelScope()
        server = StratumServer(first, stratum_config())

        async def serve_first(task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
            with server_scope:
                await server.serve(task_status=task_status)

        port = await outer.start(serve_first)
        miner: Miner = await outer.start(run_miner, miner_config(port))
        with trio.fail_after(60):
            await first.wait_for(1)
        server_scope.cancel()  # the pool goes away ...
        with trio.fail_after(30):
            while miner.connected:
                await trio.sleep(0.01)
        second = Provider(job("r1", Fraction(1)))
        async with pool(second, port=port):  # ... and comes back on the same port
            with trio.fail_after(60):
                solutions = await second.wait_for(2)
            assert all(s.job.job_id == "r1" for s in solutions) and miner.connected
        outer.cancel_scope.cancel()


async def test_a_clean_job_interrupts_the_scan_in_flight() -> None:
    provider = Provider(job("hard", Fraction(1)))
    scanner = RecordingScanner(make_scanner("hashlib"))
    async with pool(provider, initial_difficulty=1, vardiff=False) as (server, port), trio.open_nursery() as nursery:
        miner = Miner(miner_config(port, first_chunk=1 << 22), scanner)
        nursery.start_soon(miner.run)
        try:
            with trio.fail_after(30):
                while not scanner.calls:  # a 4M-nonce chunk of the hard job: seconds of hashlib work
                    await trio.sleep(0.01)
            hard_call = scanner.calls[0]
            assert hard_call["count"] == 1 << 22
            provider.job = job("easy", Fraction("0.000001"), clean=True)
            server.new_work(clean=True)
            with trio.fail_after(30):
                (solution, *_) = await provider.wait_for(1, job_id="easy")
            assert hard_call["done"] is None  # the hard chunk is still running: it was abandoned, not awaited
            assert hash_to_int(sha256d(solution.header)) <= difficulty_to_target(Fraction("0.000001"))
        finally:
            scanner.stopped.set()
        nursery.cancel_scope.cancel()


async def test_a_refused_username_stops_the_miner_with_a_clear_error() -> None:
    provider = Provider(job("e1", Fraction(1)))
    async with pool(provider) as (_, port):
        with trio.fail_after(30), pytest.raises(MinerError, match="refused worker"):
            await run_miner(miner_config(port, user="bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"))
