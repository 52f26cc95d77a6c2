"""The statistics listener: settled shares arrive in batches (one event per tip change) and are counted
once per fate, for every share and for this node's own miners; and its flush against a real SQLite file
that cannot grow (the kernel's EFBIG past RLIMIT_FSIZE, no root needed): nothing is lost, the failure is
logged once, and everything is written when the disk takes writes again."""

from __future__ import annotations

from pathlib import Path

from p2pool.events import ShareSettled, ShareSource, SharesSettled, SourceKind
from p2pool.stats.collector import RETENTION, AcceptedShare
from p2pool.stats.listener import StatsListener
from p2pool.stats.store import StatsStore
from sharechain.fate import Fate
from sharechain.params import DEVNET
from tests.fixtures.full_disk import file_size_limit

T0 = 1_700_000_000
T1 = 1_800_000_000


def test_a_batch_of_settled_shares_is_counted_by_fate_and_by_our_miners(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "stats.sqlite")
    try:
        listener = StatsListener(DEVNET, store, lambda: T0)
        local, synced = ShareSource(SourceKind.LOCAL, worker="w"), ShareSource(SourceKind.SYNC, peer="p")
        listener.on_shares_settled(SharesSettled((
            ShareSettled(b"a" * 32, Fate.MAIN, synced, b"s"),
            ShareSettled(b"b" * 32, Fate.MAIN, local, b"s"),
            ShareSettled(b"c" * 32, Fate.UNCLE, synced, b"s"),
            ShareSettled(b"d" * 32, Fate.MAIN, synced, b"s"),
        )))
        listener.on_shares_settled(SharesSettled((ShareSettled(b"e" * 32, Fate.ORPHAN, local, b"s"),)))
        assert listener.stats.counted("classified") == {"main": 3, "orphan": 1, "uncle": 1}
        assert listener.stats.counted("classified_local") == {"main": 1, "orphan": 1}
    finally:
        store.close()


def test_statistics_a_full_disk_refused_are_written_once_it_takes_them(tmp_path, caplog):
    path = tmp_path / "stats.sqlite"
    now = [float(T1)]
    listener = StatsListener(DEVNET, StatsStore(path), lambda: now[0])
    listener.flush()
    for n in range(2000):  # far more than the database and its log hold so far
        worker = f"A{n}.rig"
        listener.stats.worker_connected(T1, worker, f"A{n}")
        listener.stats.record_accepted(T1 + 1, [AcceptedShare(f"A{n}", 1000, T1 + 1, True, worker,
                                                              False)], "local")
    largest = max(f.stat().st_size for f in tmp_path.iterdir())
    with file_size_limit(largest + 1):
        listener.flush()
        listener.flush()  # still full: tried again, logged once
    assert listener.write_error == "disk I/O error"  # SQLite's words for it
    assert caplog.text.count("cannot write the statistics") == 1
    now[0] += 5
    listener.flush()
    assert listener.write_error is None and "written again" in caplog.text
    listener.store.close()
    with StatsStore(path) as store:
        stored = store.load(T1 - RETENTION)
    assert {w.name for w in stored.workers} == {f"A{n}.rig" for n in range(2000)}
    assert all(w.shares == 1 for w in stored.workers)
    assert sum(b.shares for b in stored.buckets["pool"]) == 2000
