"""The node's statistics: work series (pool, local, per address, per worker), counters by outcome and
reason, what each local worker did, and the current effort. Pure: every call gets ``now``.

What is fed in (by :class:`~p2pool.stats.listener.StatsListener`, from the node's events):
accepted shares (:meth:`Statistics.record_accepted`), shares refused by consensus
(:meth:`record_refused`), Stratum submits refused (:meth:`record_rejected`, by reason: stale, ...),
how accepted work ended up (:meth:`record_classified`: main, uncle or orphan), blocks
(:meth:`record_block`) and workers coming and going. :meth:`take_changes` hands the store what
changed; :meth:`load` takes it back after a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from p2pool.stats.series import Bucket, WorkSeries

HOUR = 3600
DAY = 24 * HOUR
# Kept for two days: the longest rate shown is over 24 h, and a restart a day later still has it.
RETENTION = 2 * DAY
MAX_WORKERS = 10_000
MAX_COUNTER_KEYS = 64  # per counter name: reasons are a closed set, but bound it anyway
SPANS = {"10m": 600, "1h": HOUR, "24h": DAY}
# Series: (bucket seconds, retention). Pool and local totals by the minute; per key by ten minutes.
SERIES = {"pool": (60, RETENTION), "local": (60, RETENTION), "address": (600, RETENTION),
          "worker": (600, RETENTION)}
CLASSES = ("main", "uncle", "orphan")


class AcceptedShare(NamedTuple):
    """One share that joined the sharechain, as the statistics see it (a tuple: a join makes one for
    each of tens of thousands of shares)."""

    address: str
    work: int  # expected hashes its target is worth
    timestamp: int  # the share's own time
    local: bool  # found by one of this node's miners
    worker: str | None = None
    block: bool = False  # its hash also met the Bitcoin block target: the pool found a block


@dataclass(frozen=True)
class WorkerInfo:
    """A local worker (the full Stratum username) and its address."""

    name: str
    address: str
    first_seen: int
    last_seen: int
    last_share: int | None = None
    shares: int = 0
    connections: int = 0  # open now (not persisted as such: 0 after a restart)


@dataclass
class Changes:
    """What the store must write (or, on :meth:`Statistics.load`, what it read)."""

    buckets: dict[str, list[Bucket]] = field(default_factory=dict)
    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    workers: list[WorkerInfo] = field(default_factory=list)
    meta: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(any(self.buckets.values()) or self.counters or self.workers or self.meta)


class Statistics:
    def __init__(self, now: int) -> None:
        self.series = {name: WorkSeries(bucket, retention) for name, (bucket, retention) in SERIES.items()}
        self.counters: dict[tuple[str, str], int] = {}
        self.workers: dict[str, WorkerInfo] = {}
        self.meta: dict[str, int] = {"started": now, "effort_work": 0, "last_block_time": 0, "pool_blocks": 0}
        self._dirty_counters: set[tuple[str, str]] = set()
        self._dirty_workers: set[str] = set()
        self._dirty_meta = set(self.meta)

    # --- what happened -------------------------------------------------------------------------------
    def begin_at(self, when: int) -> None:
        """The statistics cover the time from ``when`` on (a first start that recomputed older work)."""
        if when < self.meta["started"]:
            self._set_meta("started", when)

    def record_accepted(self, now: int, shares: Sequence[AcceptedShare], source: str | None) -> None:
        """Shares joined the sharechain (``source``: local, gossip or sync; None: recomputed from the
        sharechain at a first start, so neither counted again nor part of the current effort)."""
        oldest = now - RETENTION
        if source and shares:
            self.count("valid", source, len(shares))
        # A sync brings thousands at a time: the work added up per bucket and key first (each pair in the
        # order it first appears, so a bucket's key bound admits the same keys as one add per share), the
        # effort added up and set once (before a block among them restarts it).
        pool, by_address = self.series["pool"], self.series["address"]
        pool_size, address_size = pool.bucket, by_address.bucket
        pool_work: dict[int, list[int]] = {}
        address_work: dict[tuple[int, str], list[int]] = {}
        last_block = self.meta["last_block_time"]
        effort = 0
        for share in shares:
            work = share.work
            when = min(max(share.timestamp, oldest), now)
            entry = pool_work.get(start := when - when % pool_size)
            if entry is None:
                pool_work[start] = [work, 1]
            else:
                entry[0] += work
                entry[1] += 1
            entry = address_work.get(key := (when - when % address_size, share.address))
            if entry is None:
                address_work[key] = [work, 1]
            else:
                entry[0] += work
                entry[1] += 1
            if source and share.timestamp > last_block:
                effort += work
            if share.local:
                self.series["local"].add(now, "", work)
                if share.worker:
                    self.series["worker"].add(now, share.worker, work)
                    self._worker_share(now, share)
            if share.block:
                self._add_effort(effort)
                effort = 0
                self.record_block(share.timestamp)
                self._set_meta("pool_blocks", self.meta["pool_blocks"] + 1)
                last_block = self.meta["last_block_time"]
        self._add_effort(effort)
        for start, (work, count) in pool_work.items():
            pool.add(start, "", work, count)
        for (start, address), (work, count) in address_work.items():
            by_address.add(start, address, work, count)

    def _add_effort(self, work: int) -> None:
        if work:
            self._set_meta("effort_work", self.meta["effort_work"] + work)

    def record_refused(self, reason: str) -> None:
        """A share broke a consensus rule (``reason``: its :class:`~sharechain.rejection.Rejection` code)."""
        self.count("invalid", reason)

    def record_rejected(self, reason: str) -> None:
        """A Stratum submit was refused before it became a share (stale, duplicate, low difficulty...)."""
        self.count("rejected", reason)

    def record_classified(self, kind: str, local: bool, shares: int = 1) -> None:
        """Accepted work (``shares`` of them) ended up as main-chain shares, uncles, or orphans (in neither)."""
        if kind not in CLASSES:
            raise ValueError(f"unknown share class {kind!r}")
        self.count("classified", kind, shares)
        if local:
            self.count("classified_local", kind, shares)

    def record_block(self, when: int) -> None:
        """A block was found at ``when``: the effort starts again (once per block, however it is heard of)."""
        if when > self.meta["last_block_time"]:
            self._set_meta("last_block_time", when)
            self._set_meta("effort_work", 0)

    def worker_connected(self, now: int, name: str, address: str) -> None:
        info = self.workers.get(name) or WorkerInfo(name, address, now, now)
        self._put_worker(replace(info, last_seen=now, connections=info.connections + 1))

    def worker_disconnected(self, now: int, name: str) -> None:
        info = self.workers.get(name)
        if info is not None:
            self._put_worker(replace(info, last_seen=now, connections=max(0, info.connections - 1)))

    def count(self, name: str, key: str, amount: int = 1) -> None:
        keys = [k for n, k in self.counters if n == name] if (name, key) not in self.counters else []
        if len(keys) >= MAX_COUNTER_KEYS:
            key = "other"
        self.counters[(name, key)] = self.counters.get((name, key), 0) + amount
        self._dirty_counters.add((name, key))

    # --- reading ----------------------------------------------------------------------------------------
    def history(self, now: int, scope: str, key: str | None = None, span: int = DAY) -> list[tuple[int, float]]:
        """(bucket start, hashes/s) of ``scope`` over ``span`` seconds, from when the statistics began."""
        series = self.series[scope]
        since = max(now - span, series.start_of(self.meta["started"]))
        return series.history(now, max(series.bucket, now - since), key)

    def rates(self, now: int, scope: str, key: str | None = None) -> dict[str, float]:
        """Hash rate over 10 min, 1 h and 24 h of ``scope`` (pool, local, address, worker)."""
        series = self.series[scope]
        started = self.meta["started"]
        return {name: series.rate(now, span, key, started) for name, span in SPANS.items()}

    def counted(self, name: str) -> dict[str, int]:
        return {k: v for (n, k), v in sorted(self.counters.items()) if n == name}

    # --- persistence ------------------------------------------------------------------------------------
    def prune(self, now: int) -> None:
        for series in self.series.values():
            series.prune(now)
        gone = sorted((w for w in self.workers.values() if not w.connections and w.last_seen < now - RETENTION),
                      key=lambda w: w.last_seen)
        excess = max(0, len(self.workers) - MAX_WORKERS)
        idle = sorted((w for w in self.workers.values() if not w.connections), key=lambda w: w.last_seen)
        for info in {*gone, *idle[:excess]}:
            del self.workers[info.name]
            self._dirty_workers.add(info.name)

    def take_changes(self) -> Changes:
        changes = Changes(
            buckets={name: series.take_dirty() for name, series in self.series.items()},
            counters={key: self.counters[key] for key in self._dirty_counters},
            workers=[self.workers.get(name) or WorkerInfo(name, "", 0, 0) for name in sorted(self._dirty_workers)],
            meta={key: self.meta[key] for key in self._dirty_meta},
        )
        self._dirty_counters.clear()
        self._dirty_workers.clear()
        self._dirty_meta.clear()
        return changes

    def give_back(self, changes: Changes) -> None:
        """Changes from :meth:`take_changes` that could not be written (a full disk): the next
        :meth:`take_changes` has them again, as they are by then, so nothing is lost to a failed write."""
        for name, buckets in changes.buckets.items():
            if name in self.series:
                self.series[name].mark_dirty(buckets)
        self._dirty_counters.update(changes.counters)
        self._dirty_workers.update(info.name for info in changes.workers)
        self._dirty_meta.update(changes.meta)

    def load(self, stored: Changes) -> None:
        """What the store kept: series are added to, counters and workers replaced (no one is connected)."""
        for name, buckets in stored.buckets.items():
            if name in self.series:
                self.series[name].load(buckets)
        self.counters.update(stored.counters)
        for info in stored.workers:
            if info.first_seen:  # a deletion marker has none
                self.workers[info.name] = replace(info, connections=0)
        self.meta.update(stored.meta)
        self._dirty_meta -= set(stored.meta)

    # --- helpers ----------------------------------------------------------------------------------------
    def _worker_share(self, now: int, share: AcceptedShare) -> None:
        assert share.worker is not None
        info = self.workers.get(share.worker) or WorkerInfo(share.worker, share.address, now, now)
        self._put_worker(replace(info, last_seen=now, last_share=now, shares=info.shares + 1))

    def _put_worker(self, info: WorkerInfo) -> None:
        self.workers[info.name] = info
        self._dirty_workers.add(info.name)

    def _set_meta(self, key: str, value: int) -> None:
        self.meta[key] = value
        self._dirty_meta.add(key)

