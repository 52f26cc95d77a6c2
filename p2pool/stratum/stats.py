"""Share counters and hash-rate estimates for the API and metrics (pure: times are passed in)."""

from __future__ import annotations

from collections import Counter
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


# Work is counted in integer units of 2**-32 hashes: a difficulty d stands for d * 2**32 hashes, so
# d * 2**64 units (rounded down: under 2**-32 hashes lost per submit; integer sums, no Fraction).
_UNITS_PER_HASH = 2**32
# A window is kept as at most this many buckets (plus the one being filled), not as every submit: memory
# and time per worker stay constant whatever the submit rate; the oldest bucket may count submits up to
# window / _BUCKETS seconds older than the window.
_BUCKETS = 10


def work_units(difficulty: Fraction) -> int:
    """The hashes a submit at ``difficulty`` stands for, in units of 2**-32 hashes (integer arithmetic)."""
    return difficulty.numerator * 2**64 // difficulty.denominator


class HashrateWindow:
    """Accepted work over a sliding window: rate = sum(difficulty) * 2**32 / window, in buckets."""

    __slots__ = ("_first", "_started", "_total", "_units", "_width", "window")

    def __init__(self, window: float, started: float, buckets: int = _BUCKETS) -> None:
        self.window = window
        self._started = started
        self._width = window / buckets
        # The work units of each bucket from bucket number ``_first`` on, oldest first, 0 for a bucket without
        # a submit: a plain list of ints (ten thousand workers keep one each: 11 buckets in about 550 bytes).
        self._first = 0
        self._units: list[int] = []
        self._total = 0

    def add(self, now: float, difficulty: Fraction) -> None:
        self.add_units(now, work_units(difficulty))

    def add_units(self, now: float, units: int) -> None:
        number = int(now // self._width)
        buckets = self._units
        last = self._first + len(buckets) - 1
        if buckets and number <= last:  # (a clock that stepped back counts in the bucket it names, or the oldest)
            buckets[max(0, number - self._first)] += units
        else:
            self._expire(now)
            if buckets:
                buckets.extend([0] * (number - self._first - len(buckets)))
            else:
                self._first = number
            buckets.append(units)
        self._total += units

    def rate(self, now: float) -> float:
        """Hashes per second; over the time since start while that is shorter than the window."""
        self._expire(now)
        span = max(1.0, min(self.window, now - self._started))
        return self._total / _UNITS_PER_HASH / span

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        buckets = self._units
        while buckets and (self._first + 1) * self._width <= horizon:
            self._total -= buckets.pop(0)
            self._first += 1


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
        self.accept_units(worker, work_units(difficulty), now)

    def accept_units(self, worker: str, units: int, now: float) -> None:
        """:meth:`accept` with the work already in units (:func:`work_units`), as a session caches it."""
        self.accepted += 1
        self.decisions += 1
        self.work += units / _UNITS_PER_HASH
        self._total.add_units(now, units)
        accepted, rejected, window = self._worker(worker, now)
        window.add_units(now, units)
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
