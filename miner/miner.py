"""The built-in miner: a Stratum v1 client on trio that scans nonces with a ``kernels`` scanner.

Kernel calls run in worker threads in chunks sized to take about ``chunk_seconds``; a clean job
abandons the chunk in flight at once (its result is dropped), any other new job is picked up at the
next chunk. Lost connections are retried with exponential backoff.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass

import trio

from kernels import Scanner, make_scanner
from miner import client as c
from miner.meter import HashrateMeter
from miner.work import Chunk, Extranonce2Counter, WorkPlan
from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.stratum.codec import RemoteProtocolError

log = logging.getLogger(__name__)

_MIN_CHUNK = 1 << 12
_MAX_CHUNK = 1 << 32  # a whole nonce range: a GPU at ~10 G hashes/s needs ~2.5e9 per chunk_seconds


@dataclass(frozen=True)
class MinerConfig:
    """Where to mine and how; ``opencl`` is a shorthand for ``kernel="opencl"``."""

    url: str
    user: str
    password: str = "x"
    threads: int | None = None
    kernel: str = "auto"
    opencl: bool = False
    version_rolling: bool = True
    report_interval: float = 15.0
    reconnect_delay: float = 1.0
    max_reconnect_delay: float = 60.0
    chunk_seconds: float = 0.25
    # Nonces in the first chunk; later chunks are sized from the measured hash rate.
    first_chunk: int = 1 << 16

    @property
    def kernel_kind(self) -> str:
        return "opencl" if self.opencl else self.kernel


class MinerError(Exception):
    """A problem retrying will not fix (the pool refused our username, a bad URL)."""


class ConnectionLost(Exception):
    """The pool closed the connection or refused to subscribe us."""


def parse_url(url: str) -> tuple[str, int]:
    """``stratum+tcp://HOST:PORT`` (or ``tcp://HOST:PORT``, or ``HOST:PORT``) -> (host, port)."""
    rest = url.strip()
    for scheme in ("stratum+tcp://", "tcp://"):
        if rest.startswith(scheme):
            rest = rest[len(scheme) :]
            break
    else:
        if "://" in rest:
            raise MinerError(f"unsupported pool URL {url!r}: use stratum+tcp://HOST:PORT")
    rest = rest.rstrip("/")
    host, sep, port = rest.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise MinerError(f"pool URL {url!r} needs a host and a port: stratum+tcp://HOST:PORT")
    return host, int(port)


class Miner:
    """Mines for one pool account until cancelled; read ``hashrate``, ``accepted`` and ``rejected``."""

    def __init__(self, config: MinerConfig, scanner: Scanner) -> None:
        self.config = config
        self.scanner = scanner
        self.host, self.port = parse_url(config.url)
        self.meter = HashrateMeter()
        self.accepted = 0
        self.rejected = 0
        self.connections = 0  # TCP connections made to the pool (1 while it never had to reconnect)
        # Rejections since the last report, by the pool's reason (logged once per reason per report).
        self.recent_rejects: Counter[str] = Counter()
        self.found = 0
        self.connected = False
        self.plan: WorkPlan | None = None
        self._chunk = config.first_chunk
        self._work_ready = trio.Event()
        self._scan_scope: trio.CancelScope | None = None
        self._got_work = False

    @property
    def hashrate(self) -> float:
        """Hashes per second over the last 30 s of scanning."""
        return self.meter.rate(trio.current_time())

    async def run(self, *, task_status: trio.TaskStatus[Miner] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, mine, reconnect with backoff; raises MinerError on what retrying cannot fix."""
        task_status.started(self)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._report)
                await self._connect_forever()
        except* MinerError as group:
            raise _leaves(group)[0] from None

    async def _connect_forever(self) -> None:
        delay = self.config.reconnect_delay
        while True:
            self._got_work = False
            try:
                await self._connection()
            except* _RETRYABLE as group:
                log.warning("miner: pool %s:%d: %s", self.host, self.port, _leaves(group)[0])
            finally:
                self.connected = False
                self.plan = None
            if self._got_work:
                delay = self.config.reconnect_delay
            log.info("miner: reconnecting to %s:%d in %.1f s", self.host, self.port, delay)
            await trio.sleep(delay)
            delay = min(delay * 2, self.config.max_reconnect_delay)

    # -- one connection ------------------------------------------------------------------------

    async def _connection(self) -> None:
        stream = await trio.open_tcp_stream(self.host, self.port)
        client = c.ClientConnection()
        session = _Session(self, stream, client)
        async with stream:
            self.connected = True
            self.connections += 1
            log.info("miner: connected to %s:%d as %s", self.host, self.port, self.config.user)
            hello = client.configure() if self.config.version_rolling else b""
            await session.send(hello + client.subscribe() + client.authorize(self.config.user, self.config.password))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._scan_loop, session)
                await session.read_loop()
                nursery.cancel_scope.cancel()

    async def _scan_loop(self, session: _Session) -> None:
        while True:
            while self.plan is None:
                self._work_ready = trio.Event()
                await self._work_ready.wait()
            with trio.CancelScope() as scope:
                self._scan_scope = scope
                while self.plan is not None:
                    await self._scan_chunk(self.plan, session)

    async def _scan_chunk(self, plan: WorkPlan, session: _Session) -> None:
        chunk = plan.next_chunk(self._chunk)
        target = chunk.work.job.target
        started = trio.current_time()
        result = await trio.to_thread.run_sync(
            self.scanner.scan, chunk.work.header76, target, chunk.start, chunk.count, abandon_on_cancel=True
        )
        finished = trio.current_time()
        plan.advance(chunk, result.hashes_done)
        self.meter.add(started, finished, result.hashes_done)
        self._tune_chunk(result.hashes_done, finished - started, chunk.work.job.target)
        for nonce in result.nonces:
            await self._submit(chunk, nonce, session)

    async def _submit(self, chunk: Chunk, nonce: int, session: _Session) -> None:
        work = chunk.work
        value = hash_to_int(sha256d(work.header(nonce)))
        if value > work.job.target:
            log.error("miner: kernel %s returned nonce %08x that does not meet the target", self.scanner.name, nonce)
            return
        self.found += 1
        data = session.client.submit(
            self.config.user, work.job.job_id, work.extranonce2, work.job.ntime, nonce, work.version_bits
        )
        with trio.CancelScope(shield=True):  # a new job must not cut a line in half
            await session.send(data)

    def _tune_chunk(self, hashes: int, seconds: float, target: int) -> None:
        """Size the next chunk to take ``chunk_seconds``, but a quarter of the time one share takes at
        most: new work (a new share tip) is picked up between chunks, so a miner finding shares every
        few milliseconds must not spend a quarter of a second on work that has become a side share."""
        if hashes <= 0 or seconds <= 0:
            return
        rate = hashes / seconds
        per_share = (1 << 256) / (target + 1) / rate
        wanted = rate * min(self.config.chunk_seconds, per_share / 4)
        self._chunk = int(min(_MAX_CHUNK, max(_MIN_CHUNK, wanted, self._chunk / 4), self._chunk * 4))

    def new_job(self, job: c.MinerJob, session: _Session) -> None:
        """Switch to a job; a clean one (or the first) abandons the chunk being scanned."""
        if session.extranonce2 is None or session.client.extranonce1 is None:
            return
        restart = job.clean or self.plan is None
        self.plan = WorkPlan(job, session.client.extranonce1, session.extranonce2, session.client.version_mask)
        self._got_work = True
        if restart and self._scan_scope is not None:
            self._scan_scope.cancel()
        self._work_ready.set()

    async def _report(self) -> None:
        while True:
            await trio.sleep(self.config.report_interval)
            self.report()

    def report(self) -> None:
        """One line for the rate and totals, then one per reason shares were rejected for since the last."""
        job = self.plan.job if self.plan else None
        log.info(
            "miner: %s, shares accepted %d, rejected %d, difficulty %s%s",
            format_hashrate(self.hashrate), self.accepted, self.rejected,
            f"{float(job.difficulty):g}" if job else "-", "" if self.connected else " (not connected)",
        )
        for reason, count in sorted(self.recent_rejects.items()):
            log.warning("miner: %d share%s rejected in the last %.0f s: %s", count, "" if count == 1 else "s",
                        self.config.report_interval, reason)
        self.recent_rejects.clear()


class _Session:
    """One TCP connection's state: the protocol core, the writer lock, the extranonce2 counter."""

    def __init__(self, miner: Miner, stream: trio.SocketStream, client: c.ClientConnection) -> None:
        self.miner = miner
        self.stream = stream
        self.client = client
        self.extranonce2: Extranonce2Counter | None = None
        self._lock = trio.Lock()

    async def send(self, data: bytes) -> None:
        async with self._lock:
            await self.stream.send_all(data)

    async def read_loop(self) -> None:
        while True:
            data = await self.stream.receive_some(65536)
            if not data:
                raise ConnectionLost("the pool closed the connection")
            for event in self.client.receive_data(data):
                self._on_event(event)

    def _on_event(self, event: c.Event) -> None:
        miner = self.miner
        if isinstance(event, c.Subscribed):
            self.extranonce2 = Extranonce2Counter(event.extranonce2_size)
            if self.client.job is not None:
                miner.new_job(self.client.job, self)
        elif isinstance(event, c.Authorized):
            if not event.ok:
                raise MinerError(f"the pool refused worker {event.username}: {event.error}")
            log.info("miner: authorized as %s", event.username)
        elif isinstance(event, c.NewJob):
            log.debug("miner: job %s at difficulty %g%s", event.job.job_id, float(event.job.difficulty),
                      " (clean)" if event.job.clean else "")
            miner.new_job(event.job, self)
        elif isinstance(event, c.SubmitResult):
            if event.accepted:
                miner.accepted += 1
                log.debug("miner: share accepted (job %s)", event.job_id)
            else:
                miner.rejected += 1
                code, message = event.error or (0, "no reason given")
                miner.recent_rejects[f"{message} ({code})"] += 1
                log.debug("miner: share rejected (job %s): %s", event.job_id, event.error)
        elif isinstance(event, c.VersionRolling):
            log.debug("miner: version rolling mask %08x", event.mask)
        elif isinstance(event, c.RequestFailed):
            if event.method == "mining.subscribe":
                raise ConnectionLost(f"the pool refused mining.subscribe: {event.error}")
            log.warning("miner: %s failed: %s", event.method, event.error)


_RETRYABLE = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, ConnectionLost, RemoteProtocolError)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


def format_hashrate(rate: float) -> str:
    if rate <= 0 or not math.isfinite(rate):
        return "0 H/s"
    units = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s"]
    power = min(len(units) - 1, int(math.log10(rate) // 3)) if rate >= 1 else 0
    return f"{rate / 1000**power:.2f} {units[power]}"


async def run_miner(config: MinerConfig, *, task_status: trio.TaskStatus[Miner] = trio.TASK_STATUS_IGNORED) -> None:
    """Build the kernel and mine until cancelled; ``task_status.started`` gets the :class:`Miner`."""
    parse_url(config.url)
    scanner = await trio.to_thread.run_sync(make_scanner, config.kernel_kind, config.threads)
    log.info("miner: %s", scanner.describe())
    await Miner(config, scanner).run(task_status=task_status)
