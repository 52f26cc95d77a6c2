"""The real cpuminer 2.5.1 session (shared/vectors) as jobs, plus a work provider that serves them."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from typing import Any

import trio

from p2pool.stratum.job import JobBase, Solution, StratumJob
from p2pool.stratum.submit import SubmitError
from sharechain.bitcoin.address import address_to_script
from sharechain.bitcoin.hashing import hex_to_hash
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target
from sharechain.bitcoin.target import DIFF1_TARGET, bits_to_target
from sharechain.params import REGTEST
from tests.fixtures.vectors import VECTORS_DIR

VECTOR_PATH = (VECTORS_DIR / "cpuminer-stratum-session.json")
VECTOR: dict[str, Any] = json.loads(VECTOR_PATH.read_text())
EXTRANONCE1 = bytes.fromhex(VECTOR["jobs"]["job1"]["coinbase_layout"]["extranonce1"])
USER = "bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m"


def vector_job(name: str, share_target: int = DIFF1_TARGET) -> StratumJob:
    """A vector job as the node would hand it over (its notify params, its Core template's times)."""
    entry = VECTOR["jobs"][name]
    params = entry["params"]
    template = entry["built_from_core_template"]
    base = JobBase(
        prev_hash=hex_to_hash(entry["prevhash_display"]),
        coinb1=bytes.fromhex(params[2]),
        merkle_branch=tuple(bytes.fromhex(h) for h in params[4]),
        version=int(params[5], 16),
        bits=int(params[6], 16),
        ntime=int(params[7], 16),
        min_ntime=template["mintime"],
        max_ntime=template["curtime"] + 7200,
        share_target=share_target,
        block_target=bits_to_target(int(params[6], 16)),
    )
    return StratumJob.whole(params[0], base, bytes.fromhex(params[3]), params[8])


def easy_job(job_id: str, difficulty: Fraction, base: str = "job1", clean: bool = False) -> StratumJob:
    """A vector job whose share difficulty is ``difficulty``: tiny values make shares cheap to find."""
    job = vector_job(base, share_target=difficulty_to_target(difficulty))
    return dataclasses.replace(job, job_id=job_id, clean=clean)


class VectorProvider:
    """A real WorkProvider for tests: serves one current job to every payout script and records solutions."""

    def __init__(self, job: StratumJob | None) -> None:
        self.job = job
        self.solutions: list[Solution] = []
        self.scripts_asked: list[bytes] = []
        self.received = trio.Event()

    def job_for(self, payout_script: bytes) -> StratumJob | None:
        self.scripts_asked.append(payout_script)
        return self.job

    def parse_payout_address(self, address: str) -> bytes:
        return address_to_script(address, REGTEST.address_format)

    def unknown_job(self, job_id: str) -> SubmitError:
        return SubmitError(21, "job-not-found", "Job not found")

    def take(self, solution: Solution) -> None:
        self.solutions.append(solution)
        self.received.set()
        self.received = trio.Event()

    async def wait_for_solutions(self, count: int) -> list[Solution]:
        return await self.wait_for(count)

    async def wait_for(self, count: int, job_id: str | None = None) -> list[Solution]:
        """Wait until ``count`` solutions (of ``job_id`` if given) arrived."""
        while True:
            found = [s for s in self.solutions if job_id is None or s.job.job_id == job_id]
            if len(found) >= count:
                return found if job_id is not None else self.solutions
            await self.received.wait()


def lines(data: bytes) -> list[dict[str, Any]]:
    """Every JSON line in ``data``."""
    return [json.loads(line) for line in data.splitlines() if line.strip()]


class LineClient:
    """A raw TCP Stratum client for tests: sends exact text, reads one line at a time."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._buffer = b""

    @classmethod
    async def connect(cls, port: int) -> LineClient:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes | str | dict[str, Any]) -> None:
        if isinstance(data, dict):
            data = json.dumps(data) + "\n"
        await self.stream.send_all(data.encode() if isinstance(data, str) else data)

    async def line(self) -> bytes:
        """The next line (without its newline); EOFError when the server closed."""
        with trio.fail_after(10):
            while b"\n" not in self._buffer:
                chunk = await self.stream.receive_some(65536)
                if not chunk:
                    raise EOFError("server closed the connection")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    async def message(self) -> dict[str, Any]:
        return json.loads(await self.line())

    async def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send a request and return its answer (notifications before it are skipped)."""
        await self.send(request)
        while True:
            message = await self.message()
            if message.get("method") is None and message.get("id") == request.get("id"):
                return message

    async def aclose(self) -> None:
        await self.stream.aclose()


def grind(header76: bytes, target: int, start: int = 0, skip: frozenset[int] = frozenset()) -> int:
    """The first nonce from ``start`` whose header hash meets ``target`` (real hashing; keep targets easy)."""
    from sharechain.bitcoin.hashing import hash_to_int, sha256d

    nonce = start
    while True:
        if nonce not in skip and hash_to_int(sha256d(header76 + nonce.to_bytes(4, "little"))) <= target:
            return nonce
        nonce += 1
