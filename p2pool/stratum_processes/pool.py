"""Stratum over several worker processes, with the sharechain and consensus in the node's own.

:class:`StratumPool` stands where a :class:`~p2pool.stratum.server.StratumServer` would (the node reads the
same counts from it). It listens and accepts, admits each connection (per-IP caps and bans, as the
server's :class:`~p2pool.stratum.accept.Gate`), and hands it to the worker process with the fewest
(:mod:`.child`), which serves it from then on. New work is prepared once here
(:meth:`~p2pool.work.provider.WorkProvider.shared_work`) and sent to every worker process, which makes
each of its miners' jobs and fans them out: a fan-out to ten thousand miners is split over the processes
and so over the machine's cores. A solution that may be a share or a block comes back to be taken here
(the job rebuilt from the work kept under its number, the header checked again, then
:meth:`~p2pool.work.provider.WorkProvider.take`), and its miner is answered after it was. Strikes come
back here too; bans made here go to every worker process, whose sweeper closes the banned IP's
connections. A worker process that dies is started again; its miners reconnect.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from p2pool.events import MinerBanned, SubmitsAnswered
from p2pool.listen import listening
from p2pool.stratum.accept import Gate, accept_forever, turn_away
from p2pool.stratum.bans import StratumBans
from p2pool.stratum.job import Solution, build_coinbase, build_header
from p2pool.stratum.server import StratumConfig, StratumServer
from p2pool.stratum.stats import StratumStats, SubmitCounts, WorkerStats
from p2pool.stratum_processes.messages import Bans, NoWork, Report, Setup, Snapshot, Take, Taken, Work
from p2pool.stratum_processes.relayed import without_transactions
from p2pool.stratum_processes.wire import Channel, WireError
from p2pool.work.provider import WorkProvider
from p2pool.work.shared_job import SharedWork
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.stratum import codec as p
from sharechain.params import NetworkParams

log = logging.getLogger("p2pool.stratum.server")

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Pieces of work kept for solutions to come back on: a connection holds 8 jobs, each of a different piece.
WORKS_KEPT = 64
_RESTART_SECONDS = 1.0
_STOP_SECONDS = 5.0
_MAX_FAREWELLS = 256


class _Worker:
    """One worker process as the node sees it: its channels, what it was handed, what it last reported."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: trio.Process | None = None
        self.control: Channel | None = None
        self.take: Channel | None = None
        self.handoff: socket.socket | None = None
        self.ips: Counter[str] = Counter()  # connections handed to it and not closed yet, by IP
        self.snapshot: Snapshot | None = None
        self.workers: tuple[WorkerStats, ...] = ()
        self.pending: Work | NoWork | None = None
        self.wake = trio.Event()

    @property
    def connections(self) -> int:
        return self.ips.total()

    @property
    def ready(self) -> bool:
        return self.handoff is not None


class StratumPool:
    """Stratum served by ``processes`` worker processes; the node's miners' counts read as from one server."""

    def __init__(self, params: NetworkParams, provider: WorkProvider, processes: int,
                 config: StratumConfig | None = None, publish: Callable[[object], None] | None = None,
                 bans: StratumBans | None = None, clock: Callable[[], float] = time.time) -> None:
        if processes < 1:
            raise ValueError("at least one Stratum worker process")
        self.params = params
        self.provider = provider
        self.config = config or StratumConfig()
        start = self.config.extranonce1_start
        # Worker process i hands out extranonce1 values start + i in strides of processes + 1; this process's own
        # server (TLS connections) start + processes.
        start = secrets.randbits(32) if start is None else start
        self.config = dataclasses.replace(self.config, extranonce1_start=start, extranonce1_stride=processes + 1)
        self._publish = publish or (lambda event: None)
        self.bans = bans
        self._clock = clock
        self.gate = Gate(self.config.limits, bans, self._publish, clock)
        # TLS connections (a task each) are served here, on the provider's own jobs, through the same gate.
        self.local = StratumServer(provider, dataclasses.replace(self.config,
                                                                 extranonce1_start=(start + processes) & 0xFFFFFFFF),
                                   publish=self._publish_local, bans=bans, clock=clock)
        self.local.gate = self.gate
        self._workers = [_Worker(index) for index in range(processes)]
        self._works: OrderedDict[int, SharedWork] = OrderedDict()
        self._work_count = 0
        self._latest: Work | NoWork | None = None
        self._work_ready = trio.Event()
        self._pending_clean = False
        self._retired = SubmitCounts(0, {}, 0.0)  # the counts of worker processes that ended
        self._farewells = 0
        self._nursery: trio.Nursery | None = None
        self.started_processes = 0

    def _publish_local(self, event: object) -> None:
        self._publish(event)
        if isinstance(event, MinerBanned):  # banned by a TLS connection's invalid work: every process hears
            self._send_bans()

    # -- what the node reads ---------------------------------------------------------------------------
    @property
    def connection_count(self) -> int:
        return sum(worker.connections for worker in self._workers) + self.local.connection_count

    def worker_names(self) -> set[str]:
        names = self.local.worker_names()
        for worker in self._workers:
            if worker.snapshot is not None:
                names |= worker.snapshot.names
        return names

    def counts(self) -> SubmitCounts:
        parts = [self._retired, self.local.counts()] + [w.snapshot.counts for w in self._workers if w.snapshot is not None]
        rejected: Counter[str] = Counter()
        for part in parts:
            rejected.update(part.rejected)
        return SubmitCounts(sum(part.accepted for part in parts), dict(rejected), sum(part.work for part in parts))

    def hashrate(self) -> float:
        return self.local.hashrate() + sum(w.snapshot.hashrate for w in self._workers if w.snapshot is not None)

    def stats(self) -> StratumStats:
        names = self.worker_names()
        merged: dict[str, WorkerStats] = {}
        for stats in itertools.chain(self.local.stats().workers, *(worker.workers for worker in self._workers)):
            if stats.name not in names:
                continue
            was = merged.get(stats.name)
            merged[stats.name] = stats if was is None else WorkerStats(
                stats.name, was.accepted + stats.accepted, was.rejected + stats.rejected, was.hashrate + stats.hashrate)
        counts = self.counts()
        workers = tuple(merged.get(name, WorkerStats(name, 0, 0, 0.0)) for name in sorted(names))
        return StratumStats(self.connection_count, workers, counts.accepted, counts.rejected, self.hashrate())

    def reload_bans(self) -> int:
        count = self.gate.reload()
        self._send_bans()
        return count

    # -- new work ---------------------------------------------------------------------------------------
    def new_work(self, clean: bool) -> None:
        """New template or tip: prepared once here at the next scheduling point (a burst, a sync batch
        moving the tip many times, is prepared once, as a single server fans it out once), then sent to
        every worker process."""
        self._pending_clean = clean or self._pending_clean
        self._work_ready.set()
        self.local.new_work(clean)

    async def _announce_forever(self) -> None:
        while True:
            await self._work_ready.wait()
            self._work_ready = trio.Event()
            clean, self._pending_clean = self._pending_clean, False
            self._announce(clean)

    def _announce(self, clean: bool) -> None:
        """The current work to every worker process (only the newest, if a worker process is still taking
        an older one; a clean flag is never lost on the way)."""
        work = self.provider.shared_work()
        template = self.provider.template
        tip_height = self.provider.tip_height()
        if work is None:
            message: Work | NoWork = NoWork(clean, template.prev_hash if template is not None else b"", tip_height)
        else:
            self._work_count += 1
            work_id = self._work_count
            self._works[work_id] = work
            while len(self._works) > WORKS_KEPT:
                self._works.popitem(last=False)
            message = Work(work_id, clean, without_transactions(work.template), work.share, work.branch, tip_height)
        self._latest = message
        for worker in self._workers:
            pending = worker.pending
            if pending is not None and pending.clean and not message.clean:
                worker.pending = dataclasses.replace(message, clean=True)
            else:
                worker.pending = message
            worker.wake.set()

    # -- serving ---------------------------------------------------------------------------------------
    async def serve(self, host: str | None = None, port: int | None = None, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        host = self.config.host if host is None else host
        port = self.config.port if port is None else port
        async with listening(host, port, "Stratum (--stratum)") as (listeners, bound):
            log.info("stratum: listening on %s:%d, served by %d worker processes", host, bound, len(self._workers))
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await nursery.start(self.local.serve_adopted)
                nursery.start_soon(self._announce_forever)
                for worker in self._workers:
                    await nursery.start(self._keep_running, worker)
                for listener in listeners:
                    nursery.start_soon(accept_forever, listener, self._hand_over)
                task_status.started(bound)

    async def serve_tls(self, host: str, port: int, context: ssl.SSLContext, *,
                        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Also listen for miners over TLS, served in this process (run beside :meth:`serve`)."""
        await self.local.serve_tls(host, port, context, task_status=task_status)

    async def _hand_over(self, stream: trio.SocketStream) -> None:
        try:
            ip = str(stream.socket.getpeername()[0])
        except OSError:
            stream.socket.close()
            return
        refusal = self.gate.admit(ip)
        if refusal is not None:
            if self._nursery is not None and self._farewells < _MAX_FAREWELLS:
                self._farewells += 1
                self._nursery.start_soon(self._farewell, stream, refusal)
            else:
                stream.socket.close()
            return
        ready = [worker for worker in self._workers if worker.ready]
        if not ready:  # every worker process is starting again: the miner reconnects
            self.gate.release(ip)
            stream.socket.close()
            return
        worker = min(ready, key=lambda w: w.connections)
        handoff = worker.handoff
        assert handoff is not None
        try:
            while True:
                try:
                    socket.send_fds(handoff, [b"c"], [stream.socket.fileno()])
                    break
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(handoff)
        except OSError as exc:
            log.warning("stratum: could not hand a connection to worker process %d: %s", worker.index, exc)
            self.gate.release(ip)
        else:
            worker.ips[ip] += 1
        finally:
            stream.socket.close()  # the worker process holds its own descriptor now

    async def _farewell(self, stream: trio.SocketStream, refusal: bytes) -> None:
        try:
            await turn_away(stream, refusal)
        finally:
            self._farewells -= 1

    # -- worker processes ---------------------------------------------------------------------------------
    async def _keep_running(self, worker: _Worker, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                            ) -> None:
        """Run a worker process, and start it again whenever it ends (until the node stops)."""
        while True:
            try:
                await self._run(worker, task_status)
            except (OSError, WireError) as exc:  # could not be started, or ended before it was told its settings
                if task_status is not trio.TASK_STATUS_IGNORED:  # at the node's start: it does not start
                    raise OSError(f"Stratum worker process {worker.index} could not be started: {exc}") from exc
                log.error("stratum: worker process %d could not be started: %s", worker.index, exc)
            task_status = trio.TASK_STATUS_IGNORED
            log.error("stratum: worker process %d ended with %d connections; starting it again in %.0f s",
                      worker.index, worker.connections, _RESTART_SECONDS)
            await trio.sleep(_RESTART_SECONDS)

    async def _run(self, worker: _Worker, task_status: trio.TaskStatus[None]) -> None:
        control, control_child = socket.socketpair()
        take, take_child = socket.socketpair()
        handoff, handoff_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours = (control, take, handoff)
        theirs = (control_child, take_child, handoff_child)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
        try:
            for sock in ours:
                sock.setblocking(False)
            fds = [sock.fileno() for sock in theirs]
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "p2pool.stratum_processes.child", *map(str, fds)], pass_fds=fds, env=env,
                stdin=subprocess.DEVNULL)
        except BaseException:
            for sock in ours + theirs:
                sock.close()
            raise
        for sock in theirs:
            sock.close()
        self.started_processes += 1
        worker.process = process
        worker.control = Channel(trio.SocketStream(trio.socket.from_stdlib_socket(control)))
        worker.take = Channel(trio.SocketStream(trio.socket.from_stdlib_socket(take)))
        bans = tuple(self.bans.active(self._clock())) if self.bans is not None else ()
        try:
            async with trio.open_nursery() as nursery:
                start = self.config.extranonce1_start or 0
                config = dataclasses.replace(self.config, extranonce1_start=(start + worker.index) & 0xFFFFFFFF)
                await worker.control.send(Setup(self.params, config, worker.index,
                                                logging.getLogger().getEffectiveLevel(), bans))
                worker.pending = self._latest
                worker.wake.set()
                worker.handoff = handoff
                for talk in (self._send_work, self._hear, self._take_forever):
                    nursery.start_soon(self._until_broken, talk, worker)
                task_status.started()
                await process.wait()
                nursery.cancel_scope.cancel()
        finally:
            worker.handoff = None
            handoff.close()
            with trio.CancelScope(shield=True):
                await worker.control.stream.aclose()
                await worker.take.stream.aclose()
                with trio.move_on_after(_STOP_SECONDS):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        """A worker process ended: its connections are gone, its counts kept."""
        for ip, count in worker.ips.items():
            for _ in range(count):
                self.gate.release(ip)
        worker.ips.clear()
        if worker.snapshot is not None:
            was, counts = self._retired, worker.snapshot.counts
            rejected = Counter(was.rejected)
            rejected.update(counts.rejected)
            self._retired = SubmitCounts(was.accepted + counts.accepted, dict(rejected), was.work + counts.work)
        worker.snapshot, worker.workers = None, ()

    @staticmethod
    async def _until_broken(talk: Callable[[_Worker], Awaitable[None]], worker: _Worker) -> None:
        """Talk with a worker process until its channel breaks; then it is stopped (and started again)."""
        try:
            await talk(worker)
        except WireError as exc:
            log.error("stratum: lost worker process %d: %s", worker.index, exc)
            if worker.process is not None and worker.process.returncode is None:
                worker.process.kill()

    async def _send_work(self, worker: _Worker) -> None:
        assert worker.control is not None
        while True:
            await worker.wake.wait()
            worker.wake = trio.Event()
            message, worker.pending = worker.pending, None
            if message is not None:
                await worker.control.send(message)

    async def _hear(self, worker: _Worker) -> None:
        assert worker.control is not None
        while True:
            message = await worker.control.receive()
            if isinstance(message, Report):
                for name, level, line in message.logs:
                    logging.getLogger(name).log(level, "%s", line)
                for event in message.events:
                    self._publish(event)
                for count, seconds in message.answered:
                    self._publish(SubmitsAnswered(count, seconds))
                for ip in message.closed:
                    if worker.ips[ip] > 0:
                        worker.ips[ip] -= 1
                        if not worker.ips[ip]:
                            del worker.ips[ip]
                        self.gate.release(ip)
                for ip, invalid, good in message.strikes:
                    self._strike(ip, invalid, good)
            elif isinstance(message, Snapshot):
                worker.snapshot = message
                if message.workers is not None:
                    worker.workers = message.workers

    def _strike(self, ip: str, invalid: int, good: int) -> None:
        if self.bans is None:
            return
        ban = self.bans.strike(ip, invalid, good, self._clock())
        if ban is not None:
            self._publish(MinerBanned(ip, ban.until, ban.reason))
            log.warning("stratum: banned %s until %s: %s", ip,
                        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ban.until)), ban.reason)
            self._send_bans()

    def _send_bans(self) -> None:
        if self.bans is None:
            return
        message = Bans(tuple(self.bans.active(self._clock())))
        for worker in self._workers:
            if self._nursery is not None and worker.control is not None and worker.ready:
                self._nursery.start_soon(self._send_quietly, worker.control, message)

    @staticmethod
    async def _send_quietly(channel: Channel, message: object) -> None:
        with contextlib.suppress(WireError):  # that worker process is ending; it gets every ban when started again
            await channel.send(message)

    async def _take_forever(self, worker: _Worker) -> None:
        assert worker.take is not None
        while True:
            request = await worker.take.receive()
            assert isinstance(request, Take)
            await worker.take.send(self.take(request))

    def take(self, request: Take) -> Taken:
        """Take a worker process's solution as the node takes its own miners' (the job rebuilt from its work)."""
        work = self._works.get(request.work_id)
        if work is None:
            return Taken(request.request, (p.JOB_NOT_FOUND, "stale-expired", "Stale share: the job has expired"))
        job = work.job(request.payout_script, request.job_id, request.clean)
        coinbase = build_coinbase(job, request.extranonce1, request.extranonce2, request.payout_script)
        header = build_header(job, coinbase, request.ntime, request.nonce, request.version)
        solution = Solution(job=job, worker=request.worker, payout_script=request.payout_script,
                            extranonce1=request.extranonce1, extranonce2=request.extranonce2, ntime=request.ntime,
                            nonce=request.nonce, version=request.version, header=header, coinbase=coinbase,
                            hash=sha256d(header))
        error = self.provider.take(solution)
        return Taken(request.request, None if error is None else (error.code, error.reason, error.message))
