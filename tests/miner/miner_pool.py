"""A real Stratum server for miner tests: the trio server with a provider serving easy jobs."""

from __future__ import annotations

import json
import threading
from fractions import Fraction
from typing import Any

import trio

from kernels import Scanner, ScanResult
from p2pool.stratum.difficulty import difficulty_to_target
from p2pool.stratum.job import Solution, StratumJob
from sharechain.bitcoin.address import address_to_script
from sharechain.bitcoin.hashing import hex_to_hash
from sharechain.bitcoin.target import bits_to_target
from sharechain.params import REGTEST
from tests.fixtures.vectors import VECTORS_DIR

VECTOR: dict[str, Any] = json.loads((VECTORS_DIR / "cpuminer-stratum-session.json").read_text())
USER = "bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m"


def job(job_id: str, share_difficulty: Fraction, clean: bool = False, base: str = "job1") -> StratumJob:
    """The vector's job with our id and share difficulty (tiny difficulties make shares cheap)."""
    params = VECTOR["jobs"][base]["params"]
    template = VECTOR["jobs"][base]["built_from_core_template"]
    return StratumJob(
        job_id=job_id,
        prev_hash=hex_to_hash(VECTOR["jobs"][base]["prevhash_display"]),
        coinb1=bytes.fromhex(params[2]),
        coinb2=bytes.fromhex(params[3]),
        merkle_branch=tuple(bytes.fromhex(h) for h in params[4]),
        version=int(params[5], 16),
        bits=int(params[6], 16),
        ntime=int(params[7], 16),
        min_ntime=template["mintime"],
        max_ntime=template["curtime"] + 7200,
        clean=clean,
        share_target=difficulty_to_target(share_difficulty),
        block_target=bits_to_target(int(params[6], 16)),
    )


class Provider:
    """Serves its current job to every miner and records the solutions the server hands over."""

    def __init__(self, current: StratumJob | None) -> None:
        self.job = current
        self.solutions: list[Solution] = []
        self._changed = trio.Event()

    def job_for(self, payout_script: bytes) -> StratumJob | None:
        return self.job

    def parse_payout_address(self, address: str) -> bytes:
        return address_to_script(address, REGTEST.address_format)

    async def submit(self, solution: Solution) -> None:
        self.solutions.append(solution)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, count: int, job_id: str | None = None) -> list[Solution]:
        """Wait until ``count`` solutions (of ``job_id`` if given) arrived."""
        while True:
            found = [s for s in self.solutions if job_id is None or s.job.job_id == job_id]
            if len(found) >= count:
                return found
            await self._changed.wait()


class RecordingScanner:
    """A real scanner that records each call; ``stop`` makes calls still running return early."""

    def __init__(self, inner: Scanner, piece: int = 1 << 14) -> None:
        self.inner = inner
        self.name = f"recording-{inner.name}"
        self.calls: list[dict[str, Any]] = []
        self.stopped = threading.Event()
        self._piece = piece
        self._lock = threading.Lock()

    def scan(self, header76: bytes, target: int, start_nonce: int, count: int) -> ScanResult:
        record: dict[str, Any] = {"header76": header76, "start": start_nonce, "count": count, "done": None}
        with self._lock:
            self.calls.append(record)
        nonces: list[int] = []
        done = 0
        while done < count and not self.stopped.is_set():
            part = self.inner.scan(header76, target, start_nonce + done, min(self._piece, count - done))
            nonces.extend(part.nonces)
            done += part.hashes_done
            if len(nonces) >= 64:
                nonces = nonces[:64]
                done = nonces[-1] - start_nonce + 1
                break
        record["done"] = done
        return ScanResult(tuple(nonces), done)
