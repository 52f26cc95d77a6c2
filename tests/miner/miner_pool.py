"""A real Stratum server for miner tests: the trio server with a provider serving easy jobs."""

from __future__ import annotations

import threading
from fractions import Fraction
from typing import Any

from kernels import Scanner, ScanResult
from p2pool.stratum.job import StratumJob
from tests.p2pool.stratum.stratum_vector import USER, VECTOR, VectorProvider, easy_job

__all__ = ["USER", "VECTOR", "Provider", "RecordingScanner", "job"]


def job(job_id: str, share_difficulty: Fraction, clean: bool = False, base: str = "job1") -> StratumJob:
    """The vector's job with our id and share difficulty (tiny difficulties make shares cheap)."""
    return easy_job(job_id, share_difficulty, base=base, clean=clean)


# Serves its current job to every miner and records the solutions the server hands over.
Provider = VectorProvider


class RecordingScanner:
    """A real scanner that records each call; ``stop`` makes calls still running return early."""

    def __init__(self, inner: Scanner, piece: int = 1 << 14) -> None:
        self.inner = inner
        self.name = f"recording-{inner.name}"
        self.calls: list[dict[str, Any]] = []
        self.stopped = threading.Event()
        self._piece = piece
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"recording {self.inner.describe()}"

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
