"""The statistics on disk: a small SQLite database in the datadir (``stats.sqlite``), written in
batches by the node's flush task, read once at start. Not consensus: a damaged file is set aside and
the node starts with empty statistics (logged), never refuses to start over it.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Self

from p2pool.stats.collector import Changes, WorkerInfo
from p2pool.stats.series import Bucket

log = logging.getLogger("otedama.stats")
STATS_FILE = "stats.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (scope TEXT NOT NULL, start INTEGER NOT NULL, key TEXT NOT NULL,
    work TEXT NOT NULL, shares INTEGER NOT NULL, PRIMARY KEY (scope, start, key));
CREATE TABLE IF NOT EXISTS counters (name TEXT NOT NULL, key TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (name, key));
CREATE TABLE IF NOT EXISTS workers (name TEXT PRIMARY KEY, address TEXT NOT NULL, first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL, last_share INTEGER, shares INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StatsStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            aside = path.with_name(path.name + ".damaged")
            log.error("statistics database %s is unusable (%s): moved to %s, starting with empty statistics",
                      path, exc, aside)
            path.replace(aside)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute("SELECT count(*) FROM series").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def load(self, since: int) -> Changes:
        """Everything kept from ``since`` on (older series rows are left for :meth:`prune`)."""
        out = Changes()
        for scope, start, key, work, shares in self._db.execute(
                "SELECT scope, start, key, work, shares FROM series WHERE start >= ?", (since,)):
            out.buckets.setdefault(scope, []).append(Bucket(start, key, int(work), shares))
        out.counters = {(name, key): value for name, key, value in self._db.execute("SELECT * FROM counters")}
        out.workers = [WorkerInfo(name, address, first, last, last_share, shares) for name, address, first, last,
                       last_share, shares in self._db.execute("SELECT * FROM workers")]
        out.meta = {key: int(value) for key, value in self._db.execute("SELECT key, value FROM meta")}
        return out

    def save(self, changes: Changes) -> None:
        """Write ``changes`` in one transaction."""
        if not changes:
            return
        db = self._db
        with db:
            db.execute("BEGIN")
            for scope, buckets in changes.buckets.items():
                db.executemany("INSERT OR REPLACE INTO series VALUES (?, ?, ?, ?, ?)",
                               [(scope, b.start, b.key, str(b.work), b.shares) for b in buckets])
            db.executemany("INSERT OR REPLACE INTO counters VALUES (?, ?, ?)",
                           [(name, key, value) for (name, key), value in changes.counters.items()])
            for info in changes.workers:
                if info.first_seen:
                    db.execute("INSERT OR REPLACE INTO workers VALUES (?, ?, ?, ?, ?, ?)",
                               (info.name, info.address, info.first_seen, info.last_seen, info.last_share,
                                info.shares))
                else:
                    db.execute("DELETE FROM workers WHERE name = ?", (info.name,))
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in changes.meta.items()])

    def prune(self, before: int) -> None:
        with self._db:
            self._db.execute("DELETE FROM series WHERE start < ?", (before,))
