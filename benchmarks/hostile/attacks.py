"""Hostile Stratum clients over real TCP, and a well-behaved miner that measures its answers meanwhile.

Used by ``tests/p2pool/stratum/test_stratum_hostile.py`` (small sizes, an in-process server) and by
``benchmarks/stratum_hostile.py`` (full sizes, a node process). Every attack connects from its own
loopback address (``127.0.0.2``...: all of 127/8 is this machine on Linux), so the well-behaved miner on
127.0.0.1 does not share the attacker's per-IP count or ban. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Self

import trio

Json = dict[str, Any]


class LineStream:
    """One Stratum connection read line by line."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._buffer = b""

    @classmethod
    async def connect(cls, host: str, port: int, local: str | None = None) -> LineStream:
        return cls(await trio.open_tcp_stream(host, port, local_address=local))

    async def send(self, *messages: Json) -> None:
        await self.stream.send_all(b"".join(json.dumps(m).encode() + b"\n" for m in messages))

    async def message(self, timeout: float = 30.0) -> Json | None:
        """The next message; None once the server closed the connection."""
        with trio.fail_after(timeout):
            while b"\n" not in self._buffer:
                try:
                    chunk = await self.stream.receive_some(65536)
                except trio.BrokenResourceError:
                    chunk = b""
                if not chunk:
                    return None
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        answer: Json = json.loads(line)
        return answer

    async def answer(self, request_id: int, timeout: float = 30.0) -> Json | None:
        """The answer to ``request_id`` (notifications skipped); None if the server closed first."""
        while True:
            message = await self.message(timeout)
            if message is None or (message.get("method") is None and message.get("id") == request_id):
                return message

    async def handshake(self, user: str) -> str | None:
        """Subscribe and authorize; the first job's id (None: closed or refused)."""
        await self.send({"id": 1, "method": "mining.subscribe", "params": ["hostile/1"]},
                        {"id": 2, "method": "mining.authorize", "params": [user, "x"]})
        job, authorized = None, False
        while not (authorized and job is not None):
            message = await self.message()
            if message is None:
                return None
            if message.get("method") == "mining.notify":
                job = str(message["params"][0])
            elif message.get("id") == 2:
                if message.get("result") is not True:
                    return None
                authorized = True
        return job

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


@dataclass
class Probe:
    """A well-behaved miner: authorized, then one cheap request at a time, timing every answer."""

    lines: LineStream
    latencies: list[float] = field(default_factory=list)
    _next_id: int = 100

    @classmethod
    async def connect(cls, host: str, port: int, user: str) -> Self:
        lines = await LineStream.connect(host, port, "127.0.0.1")
        if await lines.handshake(user) is None:
            raise RuntimeError("the well-behaved miner was refused")
        return cls(lines)

    async def ask(self) -> float:
        """One round trip (``mining.extranonce.subscribe``, answered at once); its seconds."""
        self._next_id += 1
        started = trio.current_time()
        await self.lines.send({"id": self._next_id, "method": "mining.extranonce.subscribe", "params": []})
        answer = await self.lines.answer(self._next_id)
        if answer is None:
            raise RuntimeError("the server closed the well-behaved miner's connection")
        took = trio.current_time() - started
        self.latencies.append(took)
        return took

    async def run(self, interval: float) -> None:
        while True:
            await self.ask()
            await trio.sleep(interval)


@dataclass(frozen=True)
class Figures:
    """The well-behaved miner's answers during one attack."""

    attack: str
    count: int
    p50: float
    p99: float
    max: float
    detail: str = ""

    def line(self) -> str:
        return (f"{self.attack:<22} answers {self.count:>5}  p50 {self.p50 * 1000:7.1f} ms  p99 {self.p99 * 1000:7.1f} ms"
                f"  max {self.max * 1000:7.1f} ms  {self.detail}")


def figures(attack: str, latencies: list[float], detail: str = "") -> Figures:
    if not latencies:
        raise RuntimeError(f"{attack}: the well-behaved miner got no answer")
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]  # noqa: E731
    return Figures(attack, len(ordered), pick(0.5), pick(0.99), ordered[-1], detail)


@asynccontextmanager
async def probing(probe: Probe, interval: float = 0.01) -> AsyncIterator[list[float]]:
    """Run ``probe`` while the body runs; yields the list its latencies (of this stretch only) go to."""
    probe.latencies = []
    async with trio.open_nursery() as nursery:
        await probe.ask()  # the connection is quiet before it starts
        nursery.start_soon(probe.run, interval)
        yield probe.latencies
        nursery.cancel_scope.cancel()


async def measure(attack: str, probe: Probe, run: Callable[[], Awaitable[str]], interval: float = 0.01) -> Figures:
    """Run ``run`` (an attack returning what it saw) while ``probe`` asks; the probe's figures."""
    async with probing(probe, interval) as latencies:
        detail = await run()
    await probe.ask()  # at least one answer after the attack
    return figures(attack, latencies, detail)


# -- the attacks ------------------------------------------------------------------------------------

HUGE_NUMBERS = ("1e-10000000", "1e-20000000", "1e+10000000", "0." + "0" * 8192 + "1", "9" * 8192)


async def huge_exponent(host: str, port: int, local: str, rounds: int) -> str:
    """``mining.suggest_difficulty`` with huge exponents and 8 KB decimals, before any subscribe, one at a time.

    Each is answered with an error (a parse error has no id); past 50 malformed lines the server closes."""
    lines = await LineStream.connect(host, port, local)
    errors = answered = 0
    try:
        for round_ in range(rounds):
            for i, number in enumerate(HUGE_NUMBERS):
                request_id = round_ * len(HUGE_NUMBERS) + i + 1
                raw = f'{{"id": {request_id}, "method": "mining.suggest_difficulty", "params": [{number}]}}\n'
                try:
                    await lines.stream.send_all(raw.encode())
                except trio.BrokenResourceError:
                    answer = None
                else:
                    answer = await lines.message()
                if answer is None:
                    return f"closed after {answered} answers ({errors} errors)"
                answered += 1
                errors += answer.get("error") is not None
    finally:
        await lines.aclose()
    return f"{answered} answers, {errors} errors"


async def worker_flood(host: str, port: int, local: str, user: str, workers: int,
                       during: Callable[[], Awaitable[None]] | None = None) -> str:
    """One connection authorizes ``workers`` names (pipelined); ``during`` runs before it closes."""
    lines = await LineStream.connect(host, port, local)
    try:
        if await lines.handshake(user) is None:
            return "refused"
        accepted = refused = 0
        async with trio.open_nursery() as nursery:
            async def send() -> None:
                with contextlib.suppress(trio.BrokenResourceError):  # the server closed: the reader sees it
                    for start in range(0, workers, 500):
                        await lines.send(*({"id": 10 + i, "method": "mining.authorize", "params": [f"{user}.w{i}", "x"]}
                                           for i in range(start, min(workers, start + 500))))
            nursery.start_soon(send)
            closed = False
            while accepted + refused < workers:
                message = await lines.message()
                if message is None:
                    closed = True
                    nursery.cancel_scope.cancel()
                    break
                if message.get("method") is None and isinstance(message.get("id"), int) and message["id"] >= 10:
                    accepted += message.get("result") is True
                    refused += message.get("error") is not None
        if during is not None:
            await during()
    finally:
        await lines.aclose()
    return f"{accepted} accepted, {refused} refused" + (", then closed by the server" if closed else "")


@asynccontextmanager
async def idle_connections(host: str, port: int, count: int, locals_: list[str]) -> AsyncIterator[list[LineStream]]:
    """``count`` connections that never say a thing, spread over ``locals_``; closed (by us) after the body."""
    opened: list[LineStream] = []
    try:
        for i in range(count):
            opened.append(await LineStream.connect(host, port, locals_[i % len(locals_)]))  # noqa: PERF401  (what opened is closed if one fails)
        yield opened
    finally:
        await close_all(opened)


async def close_all(connections: list[LineStream]) -> None:
    """Close every connection at once (no waiting on the server)."""
    for lines in connections:
        lines.stream.socket.close()


async def wait_closed_by_server(connections: list[LineStream], timeout: float) -> int:
    """Wait until the server closed every one of ``connections``; how many it closed."""
    closed = 0
    with trio.move_on_after(timeout):
        for lines in connections:
            with trio.move_on_after(timeout):
                if await _eof(lines):
                    closed += 1
    return closed


async def _eof(lines: LineStream) -> bool:
    while True:
        try:
            chunk = await lines.stream.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return True
        if not chunk:
            return True


async def authorized_connections(host: str, port: int, count: int, locals_: list[str],
                                 user: str) -> list[LineStream]:
    """``count`` connections that subscribe and authorize (a worker name each), opened a few at a time."""
    opened: list[LineStream] = []

    async def one(i: int) -> None:
        lines = await LineStream.connect(host, port, locals_[i % len(locals_)])
        opened.append(lines)
        await lines.handshake(f"{user}.m{i}")

    for start in range(0, count, 100):
        async with trio.open_nursery() as nursery:
            for i in range(start, min(count, start + 100)):
                nursery.start_soon(one, i)
    return opened


async def submit_flood(host: str, port: int, local: str, user: str, submits: int, job: str | None = None) -> str:
    """One connection sends ``submits`` junk submits (invalid work: a server that bans would ban it) as fast as
    it can; counts the answers by outcome."""
    lines = await LineStream.connect(host, port, local)
    try:
        first = await lines.handshake(user)
        if first is None:
            return "refused"
        work: list[Json] = [{"id": 10 + i, "method": "mining.submit",
                             "params": [user, job or first, f"{i:08x}", "00000001", "00000000"]} for i in range(submits)]
        return await _flood(lines, work)
    finally:
        await lines.aclose()


async def invalid_work(host: str, port: int, local: str, user: str, submits: int) -> str:
    """Submits of invalid work (an ntime out of range) one at a time until the server closes; then a new
    connection from the same address: what happened, and what that connection was told."""
    lines = await LineStream.connect(host, port, local)
    closed = False
    try:
        job = await lines.handshake(user)
        if job is None:
            return "refused at once"
        answered = 0
        for i in range(submits):
            await lines.send({"id": 10 + i, "method": "mining.submit",
                              "params": [user, job, f"{i:08x}", "00000001", "00000000"]})
            if await lines.answer(10 + i) is None:
                closed = True
                break
            answered += 1
    finally:
        await lines.aclose()
    state = f"closed after {answered} invalid submits" if closed else f"still open after {answered}"
    return f"{state}; reconnecting: {await refusal(host, port, local) or 'let in'}"


async def ban_flood(host: str, port: int, locals_: list[str], user: str, submits: int) -> str:
    """Invalid work from every address of ``locals_`` at once (a connection each, as :func:`invalid_work`) until
    each is banned: how many were."""
    told: list[str] = []

    async def one(local: str) -> None:
        told.append(await invalid_work(host, port, local, user, submits))

    async with trio.open_nursery() as nursery:
        for local in locals_:
            nursery.start_soon(one, local)
    banned = sum("this IP is banned" in t for t in told)
    return f"{banned} of {len(locals_)} addresses banned"


async def refusals(host: str, port: int, local: str, count: int) -> str:
    """``count`` connections from ``local`` one after another, each told why it is refused (or let in)."""
    told: dict[str, int] = {}
    for _ in range(count):
        why = await refusal(host, port, local)
        key = why.split(":")[0] if why else "let in"
        told[key] = told.get(key, 0) + 1
    return ", ".join(f"{n} {key}" for key, n in sorted(told.items()))


async def refusal(host: str, port: int, local: str) -> str:
    """What a new connection from ``local`` is told before being closed ("" if it is let in)."""
    lines = await LineStream.connect(host, port, local)
    try:
        # Nothing is sent: a refused connection is told at once, and data it left unread could reset the line away.
        message = await lines.message(timeout=2)
        if message is None:
            return "closed without a word"
        if message.get("id") is None and message.get("error"):
            return str(message["error"][1])
        return ""
    except trio.TooSlowError:
        return ""
    finally:
        await lines.aclose()


async def work_flood(host: str, port: int, local: str, user: str, submits: int) -> str:
    """One connection sends ``submits`` submits of real work (ground beforehand, each meeting the connection's
    difficulty, distinct extranonce2) as fast as it can: no strikes, only the submit rate refuses them."""
    from benchmarks.loadgen.connection import Job, grind
    from sharechain.bitcoin.stratum.difficulty import difficulty_to_target, from_wire

    lines = await LineStream.connect(host, port, local)
    try:
        await lines.send({"id": 1, "method": "mining.subscribe", "params": ["hostile/1"]},
                         {"id": 2, "method": "mining.authorize", "params": [user, "x"]})
        extranonce1 = difficulty = job = None
        while job is None or difficulty is None or extranonce1 is None:
            message = await lines.message()
            if message is None:
                return "refused"
            if message.get("id") == 1:
                extranonce1 = bytes.fromhex(message["result"][1])
            elif message.get("method") == "mining.set_difficulty":
                difficulty = from_wire(message["params"][0])
            elif message.get("method") == "mining.notify":
                job = Job.from_params(message["params"])
        target = difficulty_to_target(difficulty)
        work = []
        for i in range(submits):
            extranonce2 = i.to_bytes(4, "big")
            nonce, found = grind(job, extranonce1, extranonce2, target, 1_000)
            if found:
                work.append({"id": 10 + i, "method": "mining.submit",
                             "params": [user, job.job_id, extranonce2.hex(), f"{job.ntime:08x}", f"{nonce:08x}"]})
            if i % 1000 == 999:
                await trio.lowlevel.checkpoint()
        return await _flood(lines, work)
    finally:
        await lines.aclose()


async def _flood(lines: LineStream, work: list[Json]) -> str:
    outcomes: dict[str, int] = {}
    async with trio.open_nursery() as nursery:
        async def send() -> None:
            with contextlib.suppress(trio.BrokenResourceError):
                for start in range(0, len(work), 500):
                    await lines.send(*work[start:start + 500])
        nursery.start_soon(send)
        while sum(outcomes.values()) < len(work):
            message = await lines.message()
            if message is None:
                outcomes["closed"] = 1
                nursery.cancel_scope.cancel()
                break
            if message.get("method") is None and isinstance(message.get("id"), int) and message["id"] >= 10:
                error = message.get("error")
                key = "accepted" if error is None else ("rate-limited" if "Too many submits" in str(error[1])
                                                        else f"refused-{error[0]}")
                outcomes[key] = outcomes.get(key, 0) + 1
    return ", ".join(f"{count} {key}" for key, count in sorted(outcomes.items()))
