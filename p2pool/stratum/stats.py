"""Share counters and hash-rate estimates for the API and metrics (pure: times are passed in)."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from fractions import Fraction

DEFAULT_WINDOW = 300.0


@dataclass(frozen=True)
class WorkerStats:
    """One worker name (the full username as authorized)."""

    name: str
    accepted: int
    rejected: int
    hashrate: float


@dataclass(frozen=True)
class SubmitCounts:
    """What the server has decided since it started: accepted submits, rejects by reason, and the work accepted."""

    accepted: int
    rejected: dict[str, int]
    work: float


@dataclass(frozen=True)
class StratumStats:
    """A snapshot: connections, authorized workers, accepted/rejected counts and hash rate (hashes/s)."""

    connections: int
    workers: tuple[WorkerStats, ...]
    accepted: int
    rejected: dict[str, int]
    hashrate: float


class HashrateWindow:
    """Accepted difficulty over a sliding window: rate = sum(difficulty) * 2**32 / window."""

    def __init__(self, window: float, started: float) -> None:
        self.window = window
        self._started = started
        self._entries: deque[tuple[float, Fraction]] = deque()
        self._total = Fraction(0)

    def add(self, now: float, difficulty: Fraction) -> None:
        self._entries.append((now, difficulty))
        self._total += difficulty
        self._expire(now)

    def rate(self, now: float) -> float:
        """Hashes per second; over the time since start while that is shorter than the window."""
        self._expire(now)
        span = max(1.0, min(self.window, now - self._started))
        return float(self._total * 2**32 / Fraction(span))

    def _expire(self, now: float) -> None:
        while self._entries and self._entries[0][0] <= now - self.window:
            _, difficulty = self._entries.popleft()
            self._total -= difficulty


class ShareCounter:
    """Counts every submit decision of a server and estimates hash rate per worker and in total."""

    def __init__(self, started: float, window: float = DEFAULT_WINDOW) -> None:
        self._started = started
        self._window = window
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        # Hashes the accepted submits stand for (difficulty * 2**32 each): a counter whose rate is the hash rate.
        self.work = 0.0
        # Submits decided (accepted or rejected), so a caller can tell that some were.
        self.decisions = 0
        self._total = HashrateWindow(window, started)
        self._workers: dict[str, tuple[int, int, HashrateWindow]] = {}

    def register(self, worker: str, now: float) -> None:
        """A worker authorized: its hash-rate clock starts now (not at its first share)."""
        self._worker(worker, now)

    def accept(self, worker: str, difficulty: Fraction, now: float) -> None:
        self.accepted += 1
        self.decisions += 1
        self.work += float(difficulty * 2**32)
        self._total.add(now, difficulty)
        accepted, rejected, window = self._worker(worker, now)
        window.add(now, difficulty)
        self._workers[worker] = (accepted + 1, rejected, window)

    def reject(self, worker: str | None, reason: str, now: float) -> None:
        self.rejected[reason] += 1
        self.decisions += 1
        if worker is not None:
            accepted, rejected, window = self._worker(worker, now)
            self._workers[worker] = (accepted, rejected + 1, window)

    def hashrate(self, now: float) -> float:
        return self._total.rate(now)

    def counts(self) -> SubmitCounts:
        return SubmitCounts(self.accepted, dict(self.rejected), self.work)

    def worker_stats(self, names: set[str], now: float) -> tuple[WorkerStats, ...]:
        """Stats of the given (currently authorized) workers, sorted by name."""
        out = []
        for name in sorted(names):
            accepted, rejected, window = self._worker(name, now)
            out.append(WorkerStats(name, accepted, rejected, window.rate(now)))
        return tuple(out)

    def forget_worker(self, name: str) -> None:
        self._workers.pop(name, None)

    def _worker(self, name: str, now: float) -> tuple[int, int, HashrateWindow]:
        if name not in self._workers:
            self._workers[name] = (0, 0, HashrateWindow(self._window, now))
        return self._workers[name]
