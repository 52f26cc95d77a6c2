"""Work per time bucket and key, kept for a retention period: the hash rate is work over time.

Pure: every call gets ``now`` (epoch seconds). Work is counted in expected hashes (what a share's
target is worth), so a rate is exact in expectation whatever the share difficulty. Keys per bucket
are bounded (``max_keys``): work past the bound is counted under :data:`OTHERS`, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

OTHERS = "(others)"


@dataclass(frozen=True)
class Bucket:
    """What one key did in one bucket (``start`` is its first second)."""

    start: int
    key: str
    work: int
    shares: int


class WorkSeries:
    """Buckets of ``bucket`` seconds kept for ``retention`` seconds; which ones changed since the last
    :meth:`take_dirty` (for the store)."""

    def __init__(self, bucket: int, retention: int, max_keys: int = 1000) -> None:
        if bucket < 1 or retention < bucket or max_keys < 1:
            raise ValueError("need bucket >= 1, retention >= bucket and max_keys >= 1")
        self.bucket = bucket
        self.retention = retention
        self.max_keys = max_keys
        self._buckets: dict[int, dict[str, list[int]]] = {}
        self._dirty: set[tuple[int, str]] = set()

    def start_of(self, t: int) -> int:
        return t - t % self.bucket

    def add(self, t: int, key: str, work: int, shares: int = 1) -> None:
        start = self.start_of(t)
        keys = self._buckets.setdefault(start, {})
        if key not in keys and len(keys) >= self.max_keys:
            key = OTHERS
        entry = keys.setdefault(key, [0, 0])
        entry[0] += work
        entry[1] += shares
        self._dirty.add((start, key))

    def load(self, buckets: Iterable[Bucket]) -> None:
        """Buckets read back from the store (added to what is there)."""
        for b in buckets:
            entry = self._buckets.setdefault(b.start, {}).setdefault(b.key, [0, 0])
            entry[0] += b.work
            entry[1] += b.shares

    def prune(self, now: int) -> int:
        """Forget buckets older than the retention; how many buckets went."""
        oldest = self.start_of(now - self.retention)
        old = [start for start in self._buckets if start < oldest]
        for start in old:
            del self._buckets[start]
        self._dirty = {(s, k) for s, k in self._dirty if s >= oldest}
        return len(old)

    def take_dirty(self) -> list[Bucket]:
        """The buckets changed since the last call, as they are now."""
        out = []
        for start, key in sorted(self._dirty):
            entry = self._buckets.get(start, {}).get(key)
            if entry is not None:
                out.append(Bucket(start, key, entry[0], entry[1]))
        self._dirty.clear()
        return out

    def mark_dirty(self, buckets: Iterable[Bucket]) -> None:
        """Buckets taken by :meth:`take_dirty` whose write failed: written again (as they are then) next time."""
        self._dirty.update((b.start, b.key) for b in buckets if b.start in self._buckets)

    def buckets(self) -> Iterator[Bucket]:
        for start in sorted(self._buckets):
            for key, (work, shares) in sorted(self._buckets[start].items()):
                yield Bucket(start, key, work, shares)

    def keys(self, since: int) -> set[str]:
        return {key for start, keys in self._buckets.items() if start >= self.start_of(since) for key in keys}

    def total(self, since: int, key: str | None = None) -> tuple[int, int]:
        """(work, shares) in the buckets from the one holding ``since`` on; ``key`` None: every key."""
        work = shares = 0
        first = self.start_of(since)
        for start, keys in self._buckets.items():
            if start < first:
                continue
            for k, (w, s) in keys.items():
                if key is None or k == key:
                    work += w
                    shares += s
        return work, shares

    def rate(self, now: int, span: int, key: str | None = None, started: int | None = None) -> float:
        """Hashes per second over the last ``span`` seconds (over less when the data began later, at
        ``started``): the work of the buckets in that time over the time they cover."""
        first = self.start_of(now - span + 1)
        if started is not None:
            first = max(first, started)
        work, _ = self.total(first, key)
        return work / max(1, now - first + 1)

    def history(self, now: int, span: int, key: str | None = None) -> list[tuple[int, float]]:
        """(bucket start, hashes per second in it) for every bucket of the last ``span`` seconds, zeros
        included; the current bucket's rate is over the part of it that has passed."""
        out = []
        current = self.start_of(now)
        start = self.start_of(now - span + 1)
        while start <= current:
            keys = self._buckets.get(start, {})
            work = sum(w for k, (w, _) in keys.items() if key is None or k == key)
            elapsed = self.bucket if start < current else now - start + 1
            out.append((start, work / elapsed))
            start += self.bucket
        return out
