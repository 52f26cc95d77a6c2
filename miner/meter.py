"""The built-in miner's hash-rate meter (pure: times are passed in)."""

from __future__ import annotations

from collections import deque


class HashrateMeter:
    """Hashes over the last ``window`` seconds of scanning."""

    def __init__(self, window: float = 30.0) -> None:
        self.window = window
        self.total = 0
        self._chunks: deque[tuple[float, float, int]] = deque()

    def add(self, started: float, finished: float, hashes: int) -> None:
        self.total += hashes
        self._chunks.append((started, finished, hashes))

    def rate(self, now: float) -> float:
        """Hashes per second; 0 once nothing was scanned for a whole window."""
        while self._chunks and self._chunks[0][1] < now - self.window:
            self._chunks.popleft()
        if not self._chunks:
            return 0.0
        span = max(now, self._chunks[-1][1]) - self._chunks[0][0]
        return sum(c[2] for c in self._chunks) / max(span, 1e-6)
