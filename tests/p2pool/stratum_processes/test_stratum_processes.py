"""Stratum over worker processes (``--stratum-processes``): real child processes, real TCP miners on
127.0.0.1, the node's real work provider, share store and a dev chain (every hash is a block there).

Miners are spread over the processes with extranonce1 values that never collide; each gets its job from
the work the node sent its process; a pseudo-share is answered there, a share is taken by the node (in
its sharechain, its block submitted) before the miner hears ``true``; new work reaches every miner; the
node reads one set of counts; a killed worker process is started again; bans and per-IP caps hold across
the processes."""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from fractions import Fraction

import trio

from miner.client import Authorized, ClientConnection, Event, MinerJob, NewJob, SubmitResult, Subscribed
from miner.work import make_work
from p2pool.events import NewWork, SubmitsAnswered, WorkerConnected, WorkerDisconnected, WorkSent
from p2pool.stratum.bans import StratumBans
from p2pool.stratum.limits import StratumLimits
from p2pool.stratum.server import StratumConfig
from p2pool.stratum_processes.pool import StratumPool
from sharechain.bitcoin.address import script_to_address
from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target
from sharechain.params import DEVNET
from tests.fixtures.solve import grind
from tests.fixtures.work_parts import Parts, parts
from tests.functional.sharegen import payout_script

DIFFICULTY = Fraction(1, 1_000_000)


class Miner:
    """A Stratum client over TCP: the built-in miner's protocol state, the solving done here."""

    def __init__(self, stream: trio.SocketStream, address: str) -> None:
        self.stream = stream
        self.address = address
        self.client = ClientConnection()
        self.events: list[Event] = []
        self.extranonce1 = b""
        self.jobs: list[MinerJob] = []

    @classmethod
    async def connect(cls, port: int, address: str) -> Miner:
        miner = cls(await trio.open_tcp_stream("127.0.0.1", port), address)
        await miner.stream.send_all(miner.client.subscribe() + miner.client.authorize(address, "x"))
        subscribed = await miner.wait(Subscribed)
        assert isinstance(subscribed, Subscribed)
        miner.extranonce1 = subscribed.extranonce1
        authorized = await miner.wait(Authorized)
        assert isinstance(authorized, Authorized) and authorized.ok, authorized
        await miner.job()
        return miner

    async def read(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise EOFError("the node closed the connection")
        for event in self.client.receive_data(data):
            if isinstance(event, NewJob):
                self.jobs.append(event.job)
            self.events.append(event)

    async def wait(self, kind: type, timeout: float = 20) -> Event:
        with trio.fail_after(timeout):
            while True:
                for i, event in enumerate(self.events):
                    if isinstance(event, kind):
                        return self.events.pop(i)
                await self.read()

    async def job(self, after: int = 0) -> MinerJob:
        """The newest job, once more than ``after`` jobs came."""
        with trio.fail_after(20):
            while len(self.jobs) <= after:
                await self.read()
        return self.jobs[-1]

    async def submit(self, job: MinerJob, target: int, *, above: int = -1, extranonce2: int = 0) -> SubmitResult:
        """A solution meeting ``target`` but not ``above`` (a pseudo-share: a hash over the share target)."""
        work = make_work(job, self.extranonce1, extranonce2.to_bytes(4, "big"), job.version)
        start = 0
        while True:
            nonce = grind(work.header76[:76], target) if start == 0 else _grind_from(work.header76, target, start)
            if hash_to_int(sha256d(work.header(nonce))) > above:
                break
            start = nonce + 1
        await self.stream.send_all(self.client.submit(self.address, job.job_id, work.extranonce2, job.ntime, nonce))
        result = await self.wait(SubmitResult)
        assert isinstance(result, SubmitResult)
        return result

    async def aclose(self) -> None:
        await self.stream.aclose()


def _grind_from(header76: bytes, target: int, start: int) -> int:
    nonce = start
    while hash_to_int(sha256d(header76 + nonce.to_bytes(4, "little"))) > target:
        nonce += 1
    return nonce


def address(i: int) -> str:
    return script_to_address(payout_script(i), DEVNET.address_format)


@asynccontextmanager
async def pool_running(p: Parts, processes: int = 2, bans: StratumBans | None = None,
                       **limits: object) -> AsyncIterator[tuple[StratumPool, int]]:
    config = StratumConfig(host="127.0.0.1", port=0, initial_difficulty=float(DIFFICULTY),
                           min_difficulty=float(DIFFICULTY), vardiff=False,
                           limits=dataclasses.replace(StratumLimits(), **limits))  # type: ignore[arg-type]
    pool = StratumPool(DEVNET, p.work, processes, config, publish=p.bus.publish, bans=bans)
    p.bus.subscribe(NewWork, lambda event: pool.new_work(event.clean))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(pool.serve)
        pool.new_work(True)
        yield pool, port
        nursery.cancel_scope.cancel()


async def until(predicate: object, timeout: float = 20) -> None:
    with trio.fail_after(timeout):
        while not predicate():  # type: ignore[operator]
            await trio.sleep(0.02)


async def test_miners_are_spread_over_the_processes_and_their_shares_are_the_nodes(tmp_path):
    async with parts(tmp_path) as p, pool_running(p) as (pool, port):
        heard: list[object] = []
        for kind in (WorkerConnected, WorkerDisconnected, SubmitsAnswered, WorkSent):
            p.bus.subscribe(kind, heard.append)
        miners = [await Miner.connect(port, address(i)) for i in range(4)]
        assert len({m.extranonce1 for m in miners}) == 4  # never the same extranonce1 in two processes
        assert sorted(w.connections for w in pool._workers) == [2, 2]
        assert pool.connection_count == 4
        await until(lambda: pool.worker_names() == {address(i) for i in range(4)})

        # A pseudo-share: decided in the worker process; the sharechain does not move.
        tip = p.chain.tip
        share_target = p.work.job_for(payout_script(0)).share_target
        job = miners[0].jobs[-1]
        pseudo = await miners[0].submit(job, difficulty_to_target(DIFFICULTY), above=share_target)
        assert pseudo.accepted and p.chain.tip == tip

        # A share (and on the dev chain a block): taken by the node before the miner is told.
        before = len(p.chain)
        seen = [len(m.jobs) for m in miners]
        result = await miners[1].submit(miners[1].jobs[-1], share_target, extranonce2=1)
        assert result.accepted, result
        assert len(p.chain) == before + 1 and p.chain.tip != tip
        with trio.fail_after(20):
            while not p.rpc.blocks:
                await trio.sleep(0.01)
        # ... so new work, and every miner in both processes has it.
        for miner, count in zip(miners, seen, strict=True):
            newer = await miner.job(after=count)
            assert newer.prev_hash == job.prev_hash and newer.job_id != job.job_id

        # The node reads one set of counts over both processes.
        await until(lambda: pool.counts().accepted == 2)
        assert pool.hashrate() > 0
        stats = pool.stats()
        assert stats.connections == 4 and {w.name for w in stats.workers} == {address(i) for i in range(4)}

        # A job id never issued: the true reason, from the worker process.
        bogus = await _submit_raw(miners[2], "7777777", share_target)
        assert bogus.error is not None and bogus.error[0] == 21 and "Job not found" in bogus.error[1]
        for miner in miners:
            await miner.aclose()
        await until(lambda: pool.connection_count == 0)
        await until(lambda: pool.stats().connections == 0 and not pool.worker_names())
        # What the worker processes published reached the node's bus, as a single server's events would.
        assert {e.worker for e in heard if isinstance(e, WorkerConnected)} == {address(i) for i in range(4)}
        await until(lambda: len([e for e in heard if isinstance(e, WorkerDisconnected)]) == 4)
        assert sum(e.count for e in heard if isinstance(e, SubmitsAnswered)) == 3
        assert any(isinstance(e, WorkSent) and e.jobs == 2 for e in heard)


async def test_a_burst_of_new_work_is_prepared_once(tmp_path):
    async with parts(tmp_path) as p, pool_running(p) as (pool, port):
        miner = await Miner.connect(port, address(0))
        await until(lambda: pool._latest is not None)
        prepared, seen = pool._work_count, len(miner.jobs)
        for _ in range(50):  # (a sync batch moving the tip fifty times)
            pool.new_work(False)
        await until(lambda: pool._work_count > prepared)
        await miner.job(after=seen)
        await trio.sleep(0.5)
        assert pool._work_count == prepared + 1 and len(miner.jobs) == seen + 1
        await miner.aclose()


async def _submit_raw(miner: Miner, job_id: str, target: int) -> SubmitResult:
    job = dataclasses.replace(miner.jobs[-1], job_id=job_id)
    return await miner.submit(job, target)


async def test_a_killed_worker_process_is_started_again_and_its_miners_reconnect(tmp_path):
    async with parts(tmp_path) as p, pool_running(p) as (pool, port):
        miners = [await Miner.connect(port, address(i)) for i in range(2)]
        victim = next(w for w in pool._workers if w.connections)
        assert victim.process is not None and victim.connections == 1
        os.kill(victim.process.pid, signal.SIGKILL)
        await until(lambda: pool.started_processes == 3)  # two at the start, the victim again
        await until(lambda: pool.connection_count == 1 and all(w.ready for w in pool._workers))
        gone = 0
        for miner in miners:  # the victim's miner was disconnected; the other one still mines
            try:
                with trio.fail_after(2):
                    while True:
                        await miner.read()
            except (EOFError, trio.BrokenResourceError):
                gone += 1
            except trio.TooSlowError:
                pass
            await miner.aclose()
        assert gone == 1
        await until(lambda: pool.connection_count == 0)
        again = [await Miner.connect(port, address(i)) for i in range(5, 8)]
        assert pool.connection_count == 3 and all(w.connections for w in pool._workers)
        share_target = p.work.job_for(payout_script(0)).share_target
        for i, miner in enumerate(again):  # served by both processes, the new one included
            result = await miner.submit(miner.jobs[-1], share_target, extranonce2=9 + i)
            assert result.accepted, result
            await miner.aclose()


async def test_bans_and_the_per_ip_cap_hold_across_the_processes(tmp_path):
    bans = StratumBans(tmp_path / "stratum-bans.json", ban_strikes=5, ban_seconds=600)
    async with parts(tmp_path) as p, pool_running(p, bans=bans, max_per_ip=3, auth_timeout=1.0) as (pool, port):
        miners = [await Miner.connect(port, address(i)) for i in range(3)]
        refused = await trio.open_tcp_stream("127.0.0.1", port)  # a fourth from the same IP
        with trio.fail_after(10):
            line = await refused.receive_some(4096)
        assert b"connections from this IP already" in line
        await refused.aclose()
        # Invalid work (a nonce that meets nothing) from one miner: strikes in its process, the ban here.
        job = miners[0].jobs[-1]
        for i in range(5):
            await miners[0].stream.send_all(miners[0].client.submit(address(0), job.job_id, (50 + i).to_bytes(4, "big"),
                                                                    job.ntime, _miss(miners[0], job, 50 + i)))
        await until(lambda: bans.banned("127.0.0.1", 0) is not None)
        for miner in miners:  # every process closes the banned IP's connections
            with trio.fail_after(20):
                try:
                    while True:
                        await miner.read()
                except (EOFError, trio.BrokenResourceError):
                    pass
            await miner.aclose()
        await until(lambda: pool.connection_count == 0)
        again = await trio.open_tcp_stream("127.0.0.1", port)
        with trio.fail_after(10):
            assert b"banned" in await again.receive_some(4096)
        await again.aclose()


def _miss(miner: Miner, job: MinerJob, extranonce2: int) -> int:
    """A nonce whose header does not meet the miner's difficulty."""
    work = make_work(job, miner.extranonce1, extranonce2.to_bytes(4, "big"), job.version)
    target = difficulty_to_target(DIFFICULTY)
    nonce = 0
    while hash_to_int(sha256d(work.header(nonce))) <= target:
        nonce += 1
    return nonce


def test_a_worker_process_loads_no_heavy_library() -> None:
    """A worker process carries sessions, not the node: no libp2p, LevelDB, kernels' compilers or arrays."""
    import subprocess
    import sys

    code = ("import sys, p2pool.stratum_processes.child; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'libp2p', 'numba', 'llvmlite', 'numpy', "
            "'pyopencl', 'plyvel'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


async def test_a_worker_process_that_cannot_start_stops_the_start_with_the_reason(tmp_path, monkeypatch):
    import sys

    import pytest

    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    async with parts(tmp_path) as p:
        with pytest.raises(BaseException) as caught:
            async with pool_running(p):
                pass
    errors = [caught.value]
    while isinstance(errors[-1], BaseExceptionGroup):
        errors.append(errors[-1].exceptions[0])
    assert isinstance(errors[-1], OSError)
    assert "Stratum worker process 0 could not be started" in str(errors[-1])
