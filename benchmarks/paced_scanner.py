"""A real scanner held to a set hash rate, so that miners of very different rates (1:4:16) share two
cores: every nonce is really hashed, and the scan thread then waits out the rest of the chunk's time.
It counts the hashes it tried: a miner's work, exactly. Scanners sharing a ``gate`` hash nothing until
it opens, so that miners started one after another begin together (an early share is in every later
block's window: one miner alone at the start would weigh more than its rate)."""

from __future__ import annotations

import threading
import time

from kernels.base import Scanner, ScanResult


class PacedScanner:
    def __init__(self, inner: Scanner, rate: float, gate: threading.Event | None = None) -> None:
        if rate <= 0:
            raise ValueError("the hash rate must be positive")
        self.inner = inner
        self.rate = rate
        self.name = f"paced-{inner.name}"
        self._lock = threading.Lock()
        self._gate = gate
        self._hashes = 0

    @property
    def hashes(self) -> int:
        """Nonces hashed so far (chunks abandoned for new work included: that work was done)."""
        with self._lock:
            return self._hashes

    def describe(self) -> str:
        return f"{self.inner.describe()}, paced to {self.rate:.0f} H/s"

    def scan(self, header76: bytes, target: int, start_nonce: int, count: int) -> ScanResult:
        if self._gate is not None:
            self._gate.wait()
        began = time.monotonic()
        result = self.inner.scan(header76, target, start_nonce, count)
        with self._lock:
            self._hashes += result.hashes_done
        rest = result.hashes_done / self.rate - (time.monotonic() - began)
        if rest > 0:
            time.sleep(rest)  # in the scan thread: this is the hash rate, not a wait on state
        return result
