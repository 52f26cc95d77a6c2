"""The statistics core with no I/O: work series and rates, counters, workers, effort, bounds; and through
the real SQLite store, the same statistics again after a restart (and a damaged file set aside)."""

from __future__ import annotations

from pathlib import Path

import p2pool.stats.collector
import p2pool.stats.series
from p2pool.stats.collector import DAY, RETENTION, AcceptedShare, Statistics
from p2pool.stats.series import OTHERS, WorkSeries
from p2pool.stats.store import StatsStore
from tests.purity import IO, assert_pure

T0 = 1_800_000_000  # a multiple of 600: bucket starts line up


def share(n: int, t: int, *, address: str = "A", local: bool = False, worker: str | None = None,
          work: int = 1000, block: bool = False) -> AcceptedShare:
    return AcceptedShare(address, work, t, local, worker, block)


def test_the_core_does_no_io():
    files = [Path(p2pool.stats.series.__file__), Path(p2pool.stats.collector.__file__)]
    assert assert_pure(files, IO | {"os", "pathlib"}) == 2


def test_a_rate_is_work_over_the_time_it_covers():
    series = WorkSeries(60, 3600)
    for i in range(10):  # 1000 hashes every 6 s for a minute
        series.add(T0 + 6 * i, "", 1000)
    assert series.rate(T0 + 59, 60) == 10_000 / 60
    # Over an hour, but the data began at T0: over the minute it covers, not the hour.
    assert series.rate(T0 + 59, 3600, started=T0) == 10_000 / 60
    assert series.rate(T0 + 59, 3600) == 10_000 / 3600
    assert series.history(T0 + 119, 120) == [(T0, 10_000 / 60), (T0 + 60, 0.0)]


def test_old_buckets_go_and_keys_are_bounded():
    series = WorkSeries(60, 600, max_keys=2)
    for key in "abc":
        series.add(T0, key, 5)
    assert {b.key for b in series.buckets()} == {"a", "b", OTHERS}
    assert series.total(T0, OTHERS) == (5, 1)
    series.add(T0 + 700, "a", 1)
    assert series.prune(T0 + 700) == 1
    assert [b.start for b in series.buckets()] == [T0 + 660]


def test_shares_feed_pool_local_address_and_worker_series_and_counts():
    stats = Statistics(T0)
    stats.record_accepted(T0 + 10, [share(1, T0 + 9), share(2, T0 + 10, address="B", local=True, worker="B.rig")],
                          "gossip")
    stats.record_refused("proof-of-work")
    stats.record_rejected("stale")
    stats.record_classified("uncle", local=True)
    assert stats.rates(T0 + 10, "pool")["10m"] == 2000 / 11
    assert stats.rates(T0 + 10, "local")["1h"] == 1000 / 11
    assert stats.rates(T0 + 10, "address", "B")["24h"] == 1000 / 11
    assert stats.rates(T0 + 10, "address", "A")["24h"] == 1000 / 11
    assert stats.counted("valid") == {"gossip": 2}
    assert stats.counted("invalid") == {"proof-of-work": 1}
    assert stats.counted("rejected") == {"stale": 1}
    assert stats.counted("classified_local") == {"uncle": 1}
    worker = stats.workers["B.rig"]
    assert (worker.address, worker.shares, worker.last_share) == ("B", 1, T0 + 10)


def test_effort_counts_work_since_the_last_block_and_restarts_at_a_block():
    stats = Statistics(T0)
    stats.record_accepted(T0 + 1, [share(1, T0 + 1), share(2, T0 + 1)], "local")
    assert stats.meta["effort_work"] == 2000
    stats.record_accepted(T0 + 2, [share(3, T0 + 2, block=True)], "local")
    assert (stats.meta["effort_work"], stats.meta["pool_blocks"], stats.meta["last_block_time"]) == (0, 1, T0 + 2)
    stats.record_accepted(T0 + 5, [share(4, T0 + 1)], "sync")  # an old share, synced late: not this effort
    stats.record_accepted(T0 + 5, [share(5, T0 + 5)], "gossip")
    assert stats.meta["effort_work"] == 1000
    stats.record_block(T0 + 6)  # a block found by our miner that was no share
    assert stats.meta["effort_work"] == 0


def test_one_batch_with_a_block_in_it_counts_the_effort_as_one_share_at_a_time_would():
    batch = [share(1, T0 + 1), share(2, T0 + 2, block=True), share(3, T0 + 1), share(4, T0 + 3)]
    at_once, each = Statistics(T0), Statistics(T0)
    at_once.record_accepted(T0 + 5, batch, "sync")
    for one in batch:
        each.record_accepted(T0 + 5, [one], "sync")
    assert at_once.meta == each.meta
    assert (at_once.meta["effort_work"], at_once.meta["last_block_time"]) == (1000, T0 + 2)  # share 4 only


def test_one_batch_adds_to_the_series_as_one_share_at_a_time_would_within_the_key_bound():
    # Two ten-minute buckets, five addresses interleaved, at most three keys a bucket: the batch adds its
    # work per bucket and key, in the order each pair first appears, so the same keys are admitted.
    batch = [share(n, T0 + 590 + 7 * n, address="ABCDE"[(n * 3) % 5], work=1000 + n) for n in range(12)]
    batch.append(share(12, T0 - RETENTION - 50))  # older than kept: counted at the oldest second kept
    at_once, each = Statistics(T0), Statistics(T0)
    for stats in (at_once, each):
        stats.series["address"] = WorkSeries(600, RETENTION, max_keys=3)
    at_once.record_accepted(T0 + 700, batch, "sync")
    for one in batch:
        each.record_accepted(T0 + 700, [one], "sync")
    for name in ("pool", "address"):
        assert list(at_once.series[name].buckets()) == list(each.series[name].buckets())
        assert at_once.series[name].take_dirty() == each.series[name].take_dirty()
    assert OTHERS in {b.key for b in at_once.series["address"].buckets()}
    assert sum(b.shares for b in at_once.series["pool"].buckets()) == 13


def test_workers_come_and_go_and_the_idle_ones_are_forgotten():
    stats = Statistics(T0)
    stats.worker_connected(T0, "A.1", "A")
    stats.worker_connected(T0, "A.1", "A")
    stats.worker_disconnected(T0 + 5, "A.1")
    assert stats.workers["A.1"].connections == 1
    stats.worker_disconnected(T0 + 6, "A.1")
    stats.prune(T0 + RETENTION)
    assert "A.1" in stats.workers
    stats.prune(T0 + 7 + RETENTION)
    assert "A.1" not in stats.workers


def test_statistics_are_the_same_after_a_restart(tmp_path):
    path = tmp_path / "stats.sqlite"
    stats = Statistics(T0)
    stats.worker_connected(T0, "A.1", "A")
    stats.record_accepted(T0 + 30, [share(1, T0 + 30, local=True, worker="A.1", work=2**70)], "local")
    stats.record_refused("merkle-branch")
    with StatsStore(path) as store:
        store.save(stats.take_changes())
        stats.record_accepted(T0 + 90, [share(2, T0 + 90, local=True, worker="A.1")], "local")
        store.save(stats.take_changes())  # only what changed is written again
        assert not stats.take_changes()
    with StatsStore(path) as store:
        again = Statistics(T0 + 100)
        again.load(store.load(T0 + 100 - RETENTION))
    now = T0 + 100
    assert again.rates(now, "local") == stats.rates(now, "local")
    assert again.rates(now, "worker", "A.1") == stats.rates(now, "worker", "A.1")
    assert again.history(now, "pool") == stats.history(now, "pool")
    assert again.counters == stats.counters
    assert again.meta == stats.meta
    worker = again.workers["A.1"]
    assert (worker.shares, worker.last_share, worker.connections) == (2, T0 + 90, 0)


def test_the_store_keeps_only_the_retention(tmp_path):
    with StatsStore(tmp_path / "stats.sqlite") as store:
        stats = Statistics(T0)
        stats.record_accepted(T0, [share(1, T0)], "local")
        stats.record_accepted(T0 + DAY * 3, [share(2, T0 + DAY * 3)], "local")
        store.save(stats.take_changes())
        store.prune(T0 + DAY * 3 - RETENTION)
        loaded = store.load(0)
    assert {b.start for b in loaded.buckets["pool"]} == {T0 + DAY * 3}


def test_a_damaged_database_is_set_aside(tmp_path, caplog):
    path = tmp_path / "stats.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with StatsStore(path) as store:
        assert not store.load(0)
    assert (tmp_path / "stats.sqlite.damaged").exists()
    assert "moved to" in caplog.text
