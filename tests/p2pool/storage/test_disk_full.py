"""A full disk under the share database (a real tmpfs filled to the last byte): writes fail with a clear
error, the sharechain in memory stays what the disk holds, shares are refused until space returns, the
node then resumes by itself, and the database opens intact afterwards."""

from __future__ import annotations

import pytest

from p2pool.events import ShareSource, SourceKind, StoreWritable
from p2pool.intake import ShareIntake
from p2pool.metrics import NodeMetrics, StoreHealth
from p2pool.status import StatusSources
from p2pool.storage.loader import load_chain
from p2pool.storage.share_store import ShareStore, StoreError, StoreWriteError
from sharechain.chain import ShareChain
from tests.fixtures.full_disk import file_size_limit, fill, small_filesystem
from tests.sharechain.miner import TEST_PARAMS, mine_on

T0 = 1_700_000_000
LOCAL = ShareSource(SourceKind.LOCAL, worker="w")


def _next(chain: ShareChain, i: int):
    return mine_on(chain, i % 3, T0 + i)


def _intake(path, shares: int) -> tuple[list[object], ShareChain, ShareStore, ShareIntake]:
    """A share intake on a store at ``path`` holding ``shares`` shares, and the events it announced."""
    events: list[object] = []
    chain = ShareChain(TEST_PARAMS)
    store = ShareStore(path, TEST_PARAMS)
    intake = ShareIntake(chain, store, events.append, lambda: T0 + 10_000)
    for i in range(shares):
        intake.add(_next(chain, i), LOCAL)
    return events, chain, store, intake


def test_a_full_disk_refuses_shares_and_the_node_resumes_when_space_returns(tmp_path):
    with small_filesystem(tmp_path / "disk") as disk:
        events, chain, store, intake = _intake(disk / "sharechain", 5)
        acknowledged = {r.hash for r in chain.records()}
        filler = fill(disk)

        # Some writes may still fit in the last page of LevelDB's log; one soon does not.
        with pytest.raises(StoreWriteError) as failure:
            for i in range(5, 200):
                before = chain.tip
                intake.add(_next(chain, i), LOCAL)
                acknowledged.add(chain.tip.hash)
        assert "No space left on device" in str(failure.value) and str(disk / "sharechain") in str(failure.value)
        assert chain.tip.hash == before.hash  # the chain in memory is what the disk holds
        assert {r.hash for r in chain.records()} == acknowledged
        assert store.write_error is not None and store.write_errors == 1
        assert events[-1] == StoreWritable(False, store.write_error)

        # Refused at once now, without touching the chain; the health and the metrics say why.
        with pytest.raises(StoreWriteError, match="not writable"):
            intake.add(_next(chain, 300), LOCAL)
        assert chain.tip.hash == before.hash and store.write_errors == 1
        problems = StatusSources(TEST_PARAMS, chain, store_unwritable=lambda: store.write_error).problems()
        assert len(problems) == 1 and problems[0].startswith("store-unwritable: ") and "No space left" in problems[0]
        metrics = NodeMetrics()
        metrics.observe_store(lambda: StoreHealth(store.write_error is not None, store.write_errors))
        text = metrics.render().decode()
        assert "otedama_store_unwritable 1.0" in text and "otedama_store_write_errors_total 1.0" in text

        assert not intake.recover()  # still full
        filler.unlink()
        assert intake.recover() and store.write_error is None
        assert events[-1] == StoreWritable(True)
        resumed = _next(chain, 400)
        intake.add(resumed, LOCAL)
        assert chain.tip.hash == resumed.hash
        acknowledged.add(resumed.hash)
        store.close()

        with ShareStore(disk / "sharechain", TEST_PARAMS) as reopened:  # intact: every acknowledged share
            loaded = load_chain(reopened, TEST_PARAMS)
            assert loaded.tip.hash == resumed.hash
            assert {r.hash for r in loaded.records()} == acknowledged


def test_a_write_error_without_root_is_refused_the_same_way(tmp_path):
    """The same path with the kernel's other write error (EFBIG past RLIMIT_FSIZE): runs where no tmpfs
    can be mounted."""
    events, chain, store, intake = _intake(tmp_path / "sharechain", 3)
    before = chain.tip
    log_size = max(f.stat().st_size for f in (tmp_path / "sharechain").glob("*.log"))
    with file_size_limit(log_size + 1), pytest.raises(StoreWriteError, match="File too large"):
        intake.add(_next(chain, 3), LOCAL)
    assert chain.tip.hash == before.hash and isinstance(events[-1], StoreWritable) and not events[-1].recovered
    with pytest.raises(StoreWriteError, match="not writable"):
        intake.add(_next(chain, 4), LOCAL)
    assert intake.recover()  # the limit is gone: reopened, writable
    resumed = _next(chain, 5)
    intake.add(resumed, LOCAL)
    store.close()
    with ShareStore(tmp_path / "sharechain", TEST_PARAMS) as reopened:
        loaded = load_chain(reopened, TEST_PARAMS)
        assert loaded.tip.hash == resumed.hash and len(loaded) == 4


def test_opening_a_database_on_a_full_disk_fails_clearly(tmp_path):
    with small_filesystem(tmp_path / "disk") as disk:
        fill(disk)
        with pytest.raises(StoreError, match="No space left on device") as failure:
            ShareStore(disk / "sharechain", TEST_PARAMS)
        assert "another otedama process" not in str(failure.value)


def test_a_recovery_waits_for_the_handles_readers_and_a_compaction_for_the_recovery(tmp_path):
    """The handle a recovery replaces is not closed under a reader (a backup's snapshot, a compaction), and a
    compaction asked for while the store is unwritable leaves the handle alone (it would only fail too)."""
    _events, chain, store, intake = _intake(tmp_path / "sharechain", 3)
    log_size = max(f.stat().st_size for f in (tmp_path / "sharechain").glob("*.log"))
    with file_size_limit(log_size + 1), pytest.raises(StoreWriteError):
        intake.add(_next(chain, 3), LOCAL)
    snapshot = store.snapshot()
    assert not store.recover() and store.write_error is not None  # a reader still uses the handle
    assert sum(1 for _ in snapshot.items()) > 0  # and it still reads
    snapshot.close()
    store.compact()  # unwritable: nothing done, nothing counted as using the handle
    assert store.recover() and store.write_error is None
    store.compact()  # on the new handle
    resumed = _next(chain, 4)
    intake.add(resumed, LOCAL)
    store.close()
    with ShareStore(tmp_path / "sharechain", TEST_PARAMS) as reopened:
        assert load_chain(reopened, TEST_PARAMS).tip.hash == resumed.hash
