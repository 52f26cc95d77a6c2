"""One miner connection's Stratum state and policy, with no I/O.

The server feeds received bytes to :meth:`Session.receive_data` and writes back what it returns; it
calls :meth:`Session.new_work` when the node has new work and :meth:`Session.tick` now and then so
vardiff can ease a quiet miner. Solutions that met the connection's difficulty come back for the
server to hand to the node. Time is always passed in.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from p2pool.ratelimit import TokenBucket
from p2pool.stratum.job import Solution, StratumJob, notify_line
from p2pool.stratum.limits import INVALID_WORK, StratumLimits, worker_refusal
from p2pool.stratum.provider import WorkSource
from p2pool.stratum.stats import ShareCounter, work_units
from p2pool.stratum.submit import SubmitError, check_submit, parse_submit
from p2pool.stratum.vardiff import Vardiff, VardiffConfig
from sharechain.bitcoin.stratum import codec as p
from sharechain.bitcoin.stratum.difficulty import (
    difficulty_to_target,
    from_wire,
    quantize_down,
    target_to_difficulty,
    to_wire,
)
from sharechain.bitcoin.stratum.work import EXTRANONCE2_SIZE

SERVER_VERSION_MASK = 0x1FFFE000
_USERNAME_LIMIT = 256


@dataclass(frozen=True)
class SessionConfig:
    """Policy shared by every connection of a server."""

    initial_difficulty: Fraction = Fraction(1)
    vardiff: VardiffConfig = field(default_factory=VardiffConfig)
    vardiff_enabled: bool = True
    version_mask: int = SERVER_VERSION_MASK
    max_line: int = p.DEFAULT_MAX_LINE
    # Jobs a connection keeps (all dropped on a new Bitcoin block): a job more than the sharechain's
    # uncle depth behind the tip is only worth a block, and every job kept costs memory on each of
    # thousands of connections.
    max_jobs: int = 8
    # Malformed lines tolerated before the connection is dropped.
    max_protocol_errors: int = 50
    # Workers per connection and submits per second (the rest of the limits are the server's).
    limits: StratumLimits = field(default_factory=StratumLimits)


@dataclass(frozen=True)
class Output:
    """What the server must do after feeding data: send ``data``, maybe close. ``solutions`` are the
    submits the node took (already handed over), for the caller's records."""

    data: bytes = b""
    solutions: tuple[Solution, ...] = ()
    close: bool = False


# Solutions remembered per job in a flat array (searched in C, 8 bytes each) up to this many, then in a set.
_SEEN_FLAT = 64


@dataclass(slots=True)
class SentJob:
    """A job as this connection received it: under which id, at which difficulty; ``seen`` the solutions
    submitted for it (the first 8 bytes of their hashes, for duplicates)."""

    job: StratumJob
    wire_id: str
    difficulty: Fraction
    # The first submit's solution as it is (most jobs of thousands of connections get one or two: an int
    # costs 36 bytes), then an array of them (72 bytes for two), past _SEEN_FLAT a set.
    seen: int | array[int] | set[int] | None = None

    def remember(self, solution: int) -> None:
        seen = self.seen
        if seen is None:
            self.seen = solution
        elif isinstance(seen, int):
            self.seen = array("Q", (seen, solution))
        elif isinstance(seen, set):
            seen.add(solution)
        elif len(seen) < _SEEN_FLAT:
            seen.append(solution)
        else:
            self.seen = {*seen, solution}

    def has_seen(self, solution: int) -> bool:
        seen = self.seen
        if seen is None:
            return False
        if isinstance(seen, int):
            return seen == solution
        return solution in seen


class Session:
    """The server side of one Stratum connection."""

    __slots__ = ("_capped", "_counter", "_lines", "_priced", "_renotify", "_sent_difficulty", "_source", "_submits",
                 "_vardiff", "config", "extranonce1", "good", "invalid", "jobs", "last_active", "no_work", "opened",
                 "payout_address", "payout_script", "protocol_errors", "rate_limited", "subscribed", "version_mask",
                 "workers", "workers_refused")

    def __init__(
        self, extranonce1: bytes, source: WorkSource, config: SessionConfig, counter: ShareCounter, now: float
    ) -> None:
        self.extranonce1 = extranonce1
        self.config = config
        self._source = source
        self._counter = counter
        self._lines = p.LineBuffer(config.max_line)
        self._vardiff = Vardiff(config.vardiff, config.initial_difficulty, now)
        self.subscribed = False
        self.workers: set[str] = set()
        self.payout_address: str | None = None
        self.payout_script: bytes | None = None
        self.version_mask = 0
        self.protocol_errors = 0
        self.no_work = False
        self.jobs: list[SentJob] = []  # oldest first (a list of 8 costs 120 bytes, a dict of them 464)
        self._sent_difficulty: Fraction | None = None
        self._capped: tuple[Fraction, int, Fraction] | None = None  # (vardiff difficulty, share target, job difficulty)
        self._priced: tuple[Fraction, int, int] | None = None  # (submit difficulty, its target, its work units)
        self._renotify = 0
        # For the server's limits: when the connection opened and last sent anything, its submits refused as
        # invalid work, accepted, and refused for coming too fast, and the worker names refused past the cap.
        self.opened = self.last_active = now
        self.invalid = self.good = self.rate_limited = self.workers_refused = 0
        self._submits = TokenBucket(config.limits.submit_rate, config.limits.submit_burst)

    @property
    def difficulty(self) -> Fraction:
        """The difficulty the next job will carry (before the cap at the job's share difficulty)."""
        return self._vardiff.difficulty

    def sent_job(self, wire_id: str) -> SentJob | None:
        """The job this connection was sent under ``wire_id`` and still holds (newest first: most submits are
        on the latest)."""
        for sent in reversed(self.jobs):
            if sent.wire_id == wire_id:
                return sent
        return None

    @property
    def latest_job_id(self) -> str | None:
        """The id the newest job was sent under (None before the first)."""
        return self.jobs[-1].wire_id if self.jobs else None

    @property
    def mining(self) -> bool:
        return self.subscribed and self.payout_script is not None

    # -- input ---------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> Output:
        """Feed bytes from the miner; answers every complete line."""
        self.last_active = now
        self._lines.receive_data(data)
        out: list[bytes] = []
        solutions: list[Solution] = []
        while True:
            line = self._lines.next_line()
            if isinstance(line, p.NeedData):
                break
            if isinstance(line, p.LineTooLong):
                out.append(self._protocol_error(p.PARSE_ERROR, f"Line too long (limit {line.limit} bytes)", None))
            elif line.strip():
                out.append(self._handle_line(line, now, solutions))
            if self.protocol_errors >= self.config.max_protocol_errors:
                out.append(p.encode_error(None, p.OTHER, "Too many malformed messages; closing the connection"))
                return Output(b"".join(out), tuple(solutions), close=True)
        return Output(b"".join(out), tuple(solutions))

    def _handle_line(self, line: bytes, now: float, solutions: list[Solution]) -> bytes:
        try:
            message = p.parse_message(line)
        except p.RemoteProtocolError as exc:
            return self._protocol_error(exc.code, exc.message, exc.request_id)
        if isinstance(message, p.Response):
            return b""  # we send no requests; stray answers are ignored
        handler = _HANDLERS.get(message.method)
        if handler is None:
            return self._protocol_error(p.METHOD_NOT_FOUND, f"Unknown method '{message.method[:64]}'", message.id)
        try:
            return handler(self, message, now, solutions)
        except _BadParams as exc:
            return self._protocol_error(p.OTHER, str(exc), message.id)

    def _protocol_error(self, code: int, message: str, request_id: p.JsonId) -> bytes:
        self.protocol_errors += 1
        return p.encode_error(request_id, code, message)

    # -- methods -------------------------------------------------------------------------------

    def _subscribe(self, req: p.Request, now: float, solutions: list[Solution]) -> bytes:
        self.subscribed = True
        sub_id = self.extranonce1.hex()
        result = [[["mining.set_difficulty", sub_id], ["mining.notify", sub_id]], sub_id, EXTRANONCE2_SIZE]
        out = p.encode_result(req.id, result)
        if self.payout_script is not None and not self.jobs:
            out += self._fetch_and_send(clean=True, now=now)
        return out

    def _authorize(self, req: p.Request, now: float, solutions: list[Solution]) -> bytes:
        if not req.params or not isinstance(req.params[0], str):
            raise _BadParams("mining.authorize takes [username, password]")
        username = req.params[0].strip()
        if len(username) > _USERNAME_LIMIT:
            return self._reject_auth(req, "username too long")
        refusal = None if username in self.workers else worker_refusal(len(self.workers), self.config.limits)
        if refusal is not None:  # before any work on the name; a flood past the cap is dropped like bad lines
            self.workers_refused += 1
            self.protocol_errors += 1
            return p.encode_error(req.id, p.UNAUTHORIZED, f"Unauthorized worker: {refusal}")
        address, _, _worker = username.partition(".")
        try:
            script = self._source.parse_payout_address(address)
        except ValueError as exc:
            return self._reject_auth(req, f"{exc}")
        if self.payout_script is not None and script != self.payout_script:
            return self._reject_auth(
                req, f"this connection already mines for {self.payout_address}; use another connection for {address}"
            )
        first = self.payout_script is None
        self.payout_address, self.payout_script = address, script
        self.workers.add(username)
        self._counter.register(username, now)
        out = p.encode_result(req.id, True)
        if first and self.subscribed:
            out += self._fetch_and_send(clean=True, now=now)
        return out

    def _reject_auth(self, req: p.Request, why: str) -> bytes:
        message = (
            f"Unauthorized worker: {why}. The username must be a payout address of this node's network,"
            " optionally followed by .workername"
        )
        return p.encode_error(req.id, p.UNAUTHORIZED, message)

    def _configure(self, req: p.Request, now: float, solutions: list[Solution]) -> bytes:
        if not req.params or not isinstance(req.params[0], list):
            raise _BadParams("mining.configure takes [extensions, extension-parameters]")
        options = req.params[1] if len(req.params) > 1 else {}
        if not isinstance(options, dict):
            raise _BadParams("mining.configure: extension-parameters must be an object")
        result: dict[str, object] = {}
        for name in req.params[0]:
            if not isinstance(name, str):
                raise _BadParams("mining.configure: extension names must be strings")
            if name == "version-rolling":
                miner_mask = _parse_mask(options.get("version-rolling.mask", "ffffffff"))
                self.version_mask = self.config.version_mask & miner_mask
                result[name] = self.version_mask != 0
                result["version-rolling.mask"] = f"{self.version_mask:08x}"
            else:
                result[name] = False
        return p.encode_result(req.id, result)

    def _suggest_difficulty(self, req: p.Request, now: float, solutions: list[Solution]) -> bytes:
        if not req.params:
            raise _BadParams("mining.suggest_difficulty takes [difficulty]")
        try:
            suggested = from_wire(req.params[0])
        except ValueError as exc:
            raise _BadParams(f"mining.suggest_difficulty: {exc}") from None
        self._vardiff.suggest(suggested, now)
        return p.encode_result(req.id, True) + self._announce()

    def _extranonce_subscribe(self, req: p.Request, now: float, solutions: list[Solution]) -> bytes:
        return p.encode_result(req.id, True)

    def _submit(self, req: p.Request, now: float, solutions: list[Solution]) -> bytes:
        worker: str | None = None
        try:
            if not self._submits.allow(now):
                self.rate_limited += 1
                limits = self.config.limits
                raise SubmitError(p.OTHER, "rate-limited", f"Too many submits: more than {limits.submit_rate:g}/s on"
                                  f" this connection (bursts of {limits.submit_burst:g}); slow down")
            submit = parse_submit(req.params)
            worker = submit.worker
            if not self.subscribed:
                raise SubmitError(p.NOT_SUBSCRIBED, "not-subscribed", "Not subscribed")
            if submit.worker not in self.workers:
                raise SubmitError(p.UNAUTHORIZED, "unauthorized", "Unauthorized worker")
            sent = self.sent_job(submit.job_id)
            if sent is None:
                if self.no_work:
                    raise SubmitError(p.OTHER, "no-work", "No work available: the node is waiting for its backend")
                raise self._source.unknown_job(submit.job_id)
            assert self.payout_script is not None
            difficulty = self._submit_difficulty(sent)
            target, units = self._price(difficulty)
            solution = check_submit(
                submit, sent.job, difficulty, self.extranonce1, self.version_mask, self.payout_script, target
            )
            seen = int.from_bytes(solution.hash[:8], "little")
            # (a job sent twice, under two ids, makes the same headers: every job is looked at)
            if any(other.has_seen(seen) for other in self.jobs):
                raise SubmitError(p.DUPLICATE_SHARE, "duplicate", "Duplicate share")
            sent.remember(seen)
            refused = self._source.take(solution)
            if refused is not None:
                raise refused
        except SubmitError as exc:
            if exc.reason == "bad-params":
                self.protocol_errors += 1
            if exc.reason in INVALID_WORK:
                self.invalid += 1
            self._counter.reject(worker if worker in self.workers else None, exc.reason, now)
            return p.encode_error(req.id, exc.code, exc.message)
        self.protocol_errors = 0  # a miner doing real work is forgiven the odd bad line
        self.good += 1
        self._counter.accept_units(submit.worker, units, now)
        solutions.append(solution)
        out = p.encode_result(req.id, True)
        if self.config.vardiff_enabled and self._vardiff.on_submit(now) is not None:
            out += self._announce()
        return out

    def _submit_difficulty(self, sent: SentJob) -> Fraction:
        """The job's difficulty, or the one announced since if lower (miners like cgminer apply it at once)."""
        if self._sent_difficulty is None or self._sent_difficulty is sent.difficulty:
            return sent.difficulty
        return min(sent.difficulty, self._sent_difficulty)

    def _price(self, difficulty: Fraction) -> tuple[int, int]:
        """The target a submit at ``difficulty`` must meet and the work it stands for (kept for the next
        submit, which nearly always comes at the same difficulty)."""
        priced = self._priced
        if priced is not None and priced[0] is difficulty:
            return priced[1], priced[2]
        target, units = difficulty_to_target(difficulty), work_units(difficulty)
        self._priced = (difficulty, target, units)
        return target, units

    # -- work ----------------------------------------------------------------------------------

    def new_work(self, clean: bool, now: float) -> bytes:
        """The node has new work: fetch this miner's job and notify it (nothing before authorize)."""
        if not self.mining:
            return b""
        return self._fetch_and_send(clean, now)

    def set_difficulty(self, difficulty: Fraction, now: float) -> bytes:
        """Set and announce a new difficulty; like cpuminer, it applies from the next notify on."""
        self._vardiff.suggest(difficulty, now)
        return self._announce()

    def tick(self, now: float) -> bytes:
        """Let vardiff ease the difficulty of a miner that has gone quiet."""
        if self.config.vardiff_enabled and self.jobs and self._vardiff.tick(now) is not None:
            return self._announce()
        return b""

    def _announce(self) -> bytes:
        """Send mining.set_difficulty if the wanted difficulty changed; the next notify carries it.

        Jobs are not re-sent: a miner would rescan the same nonces under the new id (duplicates).
        """
        if not self.subscribed or self._sent_difficulty is None:
            return b""  # the first job announces it
        latest = self.jobs[-1] if self.jobs else None
        wanted = self._vardiff.difficulty if latest is None else self._job_difficulty(latest.job)
        if wanted == self._sent_difficulty:
            return b""
        self._sent_difficulty = wanted
        return p.encode_notification("mining.set_difficulty", [to_wire(wanted)])

    def _fetch_and_send(self, clean: bool, now: float) -> bytes:
        assert self.payout_script is not None
        job = self._source.job_for(self.payout_script)
        if job is None:
            self.no_work = True
            self._drop_jobs()
            return b""
        latest = self.jobs[-1] if self.jobs else None
        # (job ids are the node's count: a different id is a different job, without comparing the rest)
        if not clean and latest is not None and latest.job.job_id == job.job_id and latest.job == job:
            return b""  # nothing new for this miner
        restart = clean or job.clean or self.no_work or not self.jobs
        if self.no_work:  # the idle clock stood still while the node had no work for this miner
            self.last_active = max(self.last_active, now)
        self.no_work = False
        return self._send_job(job, restart)

    def _job_difficulty(self, job: StratumJob) -> Fraction:
        """Connection difficulty, capped so that every real share (job.share_target) gets submitted (kept for
        the next job: a fan-out asks for each connection's, and comparing fractions is not cheap)."""
        wanted, capped = self._vardiff.difficulty, self._capped
        if capped is not None and capped[0] is wanted and capped[1] == job.share_target:
            return capped[2]
        difficulty = min(wanted, _share_difficulty(job.share_target))
        self._capped = (wanted, job.share_target, difficulty)
        return difficulty

    def _send_job(self, job: StratumJob, clean: bool) -> bytes:
        difficulty = self._job_difficulty(job)
        if self.config.vardiff_enabled:
            self._vardiff.cap(difficulty)
        out = b""
        if difficulty is not self._sent_difficulty and difficulty != self._sent_difficulty:
            out += p.encode_notification("mining.set_difficulty", [to_wire(difficulty)])
            self._sent_difficulty = difficulty
        wire_id = job.job_id
        if self.sent_job(wire_id) is not None:  # the node reused an id: keep ours unique on this connection
            self._renotify += 1
            wire_id = f"{job.job_id}.{self._renotify:x}"
        if clean:
            self._drop_jobs()
        self.jobs.append(SentJob(job, wire_id, difficulty))
        if len(self.jobs) > self.config.max_jobs:
            del self.jobs[:-self.config.max_jobs]
        return out + notify_line(job, wire_id, clean, self.payout_script)

    def _drop_jobs(self) -> None:
        self.jobs.clear()


@lru_cache(maxsize=64)
def _share_difficulty(share_target: int) -> Fraction:
    """The difficulty a share target stands for, rounded down (the same few targets for every connection)."""
    return quantize_down(target_to_difficulty(share_target))


class _BadParams(Exception):
    """A known method called with parameters of the wrong shape (answered with error 20)."""


def _parse_mask(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFFFF:
        return value
    if isinstance(value, str) and 1 <= len(value) <= 8:
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise _BadParams(f"mining.configure: version-rolling.mask must be 8 hex digits, got {value!r}")


_HANDLERS = {
    "mining.subscribe": Session._subscribe,
    "mining.authorize": Session._authorize,
    "mining.configure": Session._configure,
    "mining.suggest_difficulty": Session._suggest_difficulty,
    "mining.extranonce.subscribe": Session._extranonce_subscribe,
    "mining.submit": Session._submit,
}
