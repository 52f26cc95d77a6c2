"""Durable share storage in LevelDB (plyvel): the thin I/O adapter under :class:`ShareChain`.

Layout: ``meta:*`` (format version, network id), ``s<hash>`` the share as received, ``r<hash>``
its index record (what a restart loads, without re-checking proof of work: the share's fields, its
header and its cumulative work), ``b<hash>`` blocks this node found. Each write is one synchronous
batch: the shares that joined with their records, and the shares the keep rule pruned. Found blocks
are history, not consensus: pruning never touches them. Deleted keys leave tombstones in LevelDB's
files until a compaction rewrites them (:meth:`ShareStore.compact`), which the node runs in a thread.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Self

import plyvel

from sharechain.horizon import NO_FLOOR
from sharechain.params import NetworkParams
from sharechain.record import ShareRecord
from sharechain.share import Share

# 2: records carry the header and the cumulative work (a pruned chain restarts from them).
FORMAT_VERSION = b"2"
_SHARE = b"s"
_RECORD = b"r"
_BLOCK = b"b"
_META_VERSION = b"meta:version"
_META_NETWORK = b"meta:network"
# The chain's floor (forks below it are refused) when the last write was made: a restart keeps it.
_META_FLOOR = b"meta:floor"
# Written by a recovery after a failed write: proves the reopened database takes writes again.
_META_PROBE = b"meta:probe"
# What a recovery writes to a file first (LevelDB's next log and table files need about this much).
_PROBE_BYTES = 1 << 20


class StoreError(RuntimeError):
    """The database cannot be used as it is; the message names the path and a way out."""


class StoreWriteError(StoreError):
    """A write did not reach the disk (LevelDB's error, such as "No space left on device", is the message's
    cause): nothing of that batch is stored, and the store stays unwritable until :meth:`ShareStore.recover`."""


class ShareStore:
    def __init__(self, path: Path, params: NetworkParams, *, reindexing: bool = False) -> None:
        """``reindexing`` opens a store of an older format too (a reindex rewrites every record)."""
        self.path = Path(path)
        self.params = params
        self._reindexing = reindexing
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._db = plyvel.DB(str(self.path), create_if_missing=True)
        except plyvel.CorruptionError as exc:
            raise StoreError(f"share database at {self.path} is damaged ({exc}); restart with --reindex "
                             "to repair it and rebuild the index from the stored shares") from None
        except plyvel.IOError as exc:
            reason = _reason(exc)
            hint = " (is another otedama process using this --datadir?)" if "lock" in reason.lower() else ""
            raise StoreError(f"cannot open share database at {self.path}: {reason}{hint}") from None
        # Keys deleted since the last compaction.
        self.deleted = 0
        # Why the last write failed (None: writable); writes are refused until a recovery succeeds.
        self.write_error: str | None = None
        self.write_errors = 0  # writes that failed since the store was opened
        # Threads using the database handle (a compaction, a backup's snapshot): a recovery does not
        # close it under them.
        self._users = 0
        self._users_lock = threading.Lock()
        try:
            self._check_identity()
        except StoreError:
            self._db.close()
            raise

    def _check_identity(self) -> None:
        network = self._db.get(_META_NETWORK)
        version = self._db.get(_META_VERSION)
        if network is None and version is None:
            if any(True for _ in self._db.iterator(include_value=False)):
                raise StoreError(f"{self.path} holds a LevelDB database that is not an Otedama share store; "
                                 "choose another --datadir")
            batch = self._db.write_batch(sync=True)
            batch.put(_META_NETWORK, self.params.network_id)
            batch.put(_META_VERSION, FORMAT_VERSION)
            self._commit(batch)
            return
        if network != self.params.network_id:
            # Every stored share commits to the id it was made under, so no reindex can convert them.
            raise StoreError(f"share database at {self.path} belongs to another network or to other consensus "
                             f"rules (id {network.hex() if network else 'missing'}; this node runs "
                             f"{self.params.name} with id {self.params.network_id.hex()}, for example after an "
                             "upgrade that changed a consensus rule); --reindex cannot convert it: start with a "
                             "fresh --datadir, or move this one away")
        if version != FORMAT_VERSION and not self._reindexing:
            raise StoreError(f"share database at {self.path} has format {version!r}, this version reads "
                             f"{FORMAT_VERSION!r}; restart with --reindex to rebuild it")

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put_share(self, share: Share) -> None:
        """Write ``share`` and its index record atomically and durably (fsync) before returning."""
        self.put_shares([share])

    def put_shares(self, shares: list[Share]) -> None:
        """Write shares of a chain that starts at its first share (records without cumulative work: a
        load computes it from the parents); a node writes through :meth:`write`."""
        self.write([(share, ShareRecord.from_share(share)) for share in shares], ())

    def write(self, added: Iterable[tuple[Share, ShareRecord]], pruned: Sequence[bytes],
              floor: int | None = None, *, durable: bool = True) -> None:
        """One atomic batch: shares that joined, with their records, the hashes the keep rule pruned,
        and the chain's floor. ``durable`` (the default) waits for the disk (fsync); shares fetched from
        peers in bulk need not (a crash loses only what peers still have, and the next durable write,
        such as our own miner's next share, flushes them too: LevelDB's log is written in order)."""
        batch = self._db.write_batch(sync=durable)
        for share, record in added:
            batch.put(_SHARE + share.hash, share.serialize())
            batch.put(_RECORD + share.hash, record.serialize())
        for share_hash in pruned:
            batch.delete(_SHARE + share_hash)
            batch.delete(_RECORD + share_hash)
        if floor is not None:
            batch.put(_META_FLOOR, floor.to_bytes(8, "little", signed=True))
        self._commit(batch)
        self.deleted += len(pruned)

    def _commit(self, batch: plyvel.WriteBatch) -> None:
        """Write ``batch`` or raise :class:`StoreWriteError` (also when an earlier write failed and no
        recovery succeeded since: LevelDB keeps refusing after a failed sync, and a half-known disk is
        not written to)."""
        if self.write_error is not None:
            raise StoreWriteError(f"share database at {self.path} is not writable: {self.write_error}")
        try:
            batch.write()
        except plyvel.Error as exc:  # IOError on ENOSPC or EIO; CorruptionError if the disk lied
            self.write_errors += 1
            self.write_error = _reason(exc)
            raise StoreWriteError(f"share database at {self.path} is not writable: {self.write_error}") from exc

    def recover(self) -> bool:
        """After a failed write: once a probe file can be written next to the database, write a probe key,
        reopening the database first if need be (LevelDB refuses every write after a failed sync until it
        is reopened). True when writable again; the reason stays in :attr:`write_error` when not."""
        if self.write_error is None:
            return True
        # Under the users' lock: a compaction thread cannot start on the handle while it is replaced.
        with self._users_lock:
            if self._users:
                return False  # a compaction or a backup still reads through this handle: next time
            return self._reopen_when_writable()

    def _reopen_when_writable(self) -> bool:
        probe = self.path / "space-probe"
        try:
            with probe.open("wb") as file:  # cheaper than reopening LevelDB into a still full disk
                file.write(bytes(_PROBE_BYTES))
                file.flush()
                os.fsync(file.fileno())
        except OSError as exc:
            self.write_error = f"{exc.strerror or exc} (checked again)"
            return False
        finally:
            probe.unlink(missing_ok=True)
        try:
            # Always a fresh handle: after a failed append LevelDB's log writer has counted bytes that never
            # reached the file, so a later record in that log would be unreadable (and lost) on a restart.
            if not self._db.closed:
                self._db.close()
            self._db = plyvel.DB(str(self.path), create_if_missing=False)
            self._db.put(_META_PROBE, b"1", sync=True)
        except plyvel.Error as exc:
            self.write_error = f"{_reason(exc)} (reopening)"
            return False
        self.write_error = None
        return True

    def floor(self) -> int:
        """The floor stored with the last write (the lowest possible when none was)."""
        raw = self._db.get(_META_FLOOR)
        return int.from_bytes(raw, "little", signed=True) if raw is not None and len(raw) == 8 else NO_FLOOR

    def delete(self, hashes: Sequence[bytes]) -> None:
        """Forget pruned shares (with their records)."""
        if hashes:
            self.write((), hashes)

    def clear_shares(self) -> None:
        """Delete every share and record (found blocks and the identity stay)."""
        batch = self._db.write_batch(sync=True)
        deleted = 0
        for prefix in (_SHARE, _RECORD):
            for key in self._db.iterator(prefix=prefix, include_value=False):
                batch.delete(key)
                deleted += 1
        batch.delete(_META_FLOOR)
        self._commit(batch)
        self.deleted += deleted

    def compact(self) -> None:
        """Rewrite LevelDB's files without the deleted keys, so the disk really shrinks (slow: run it
        in a thread)."""
        with self._users_lock:  # (checked and counted at once: a recovery cannot replace the handle between)
            if self.write_error is not None:
                return  # it would only fail too; a recovery reopens the database first
            self._users += 1
        self.deleted = 0
        try:
            self._db.compact_range()
        finally:
            self._use(-1)

    def _use(self, change: int) -> None:
        with self._users_lock:
            self._users += change

    def get_share(self, share_hash: bytes) -> Share | None:
        raw = self._db.get(_SHARE + share_hash)
        return Share.parse(raw) if raw is not None else None

    def get_raw(self, share_hash: bytes) -> bytes | None:
        """A stored share's bytes as received (what a peer is sent), without parsing them."""
        return self._db.get(_SHARE + share_hash)

    def get_record(self, share_hash: bytes) -> ShareRecord | None:
        raw = self._db.get(_RECORD + share_hash)
        try:
            return ShareRecord.parse(share_hash, raw) if raw is not None else None
        except ValueError:
            return None

    def has_share(self, share_hash: bytes) -> bool:
        return self._db.get(_RECORD + share_hash) is not None

    def records(self) -> Iterator[ShareRecord]:
        """Every stored index record (unordered), for a restart."""
        try:
            for key, value in self._db.iterator(prefix=_RECORD):
                try:
                    yield ShareRecord.parse(key[1:], value)
                except ValueError as exc:
                    raise StoreError(f"share database at {self.path} has a damaged record {key[1:].hex()}: "
                                     f"{exc}; restart with --reindex") from None
        except plyvel.CorruptionError as exc:
            raise StoreError(f"share database at {self.path} is damaged ({exc}); restart with --reindex") from None

    def shares(self) -> Iterator[tuple[bytes, bytes]]:
        """Every stored share as (hash, raw bytes)."""
        for key, value in self._db.iterator(prefix=_SHARE):
            yield key[1:], value

    def count(self) -> int:
        return sum(1 for _ in self._db.iterator(prefix=_RECORD, include_value=False))

    def replace_records(self, records: list[ShareRecord], dropped: list[bytes], floor: int) -> None:
        """Rewrite the index from ``records`` (a reindex), deleting ``dropped`` shares entirely."""
        batch = self._db.write_batch(sync=True)
        batch.put(_META_FLOOR, floor.to_bytes(8, "little", signed=True))
        for key in self._db.iterator(prefix=_RECORD, include_value=False):
            batch.delete(key)
        for record in records:
            batch.put(_RECORD + record.hash, record.serialize())
        for share_hash in dropped:
            batch.delete(_SHARE + share_hash)
        batch.put(_META_VERSION, FORMAT_VERSION)
        self._commit(batch)
        self.deleted += len(dropped)

    def snapshot(self) -> StoreSnapshot:
        """The whole database as it is now, unchanging however the node goes on (see :class:`StoreSnapshot`)."""
        self._use(1)
        return StoreSnapshot(self._db.snapshot(), lambda: self._use(-1))

    def put_block(self, block_hash: bytes, info: dict) -> None:
        batch = self._db.write_batch(sync=True)
        batch.put(_BLOCK + block_hash, json.dumps(info, sort_keys=True).encode())
        self._commit(batch)

    def blocks(self) -> list[dict]:
        return [json.loads(value) for _, value in self._db.iterator(prefix=_BLOCK)]


class StoreSnapshot:
    """An unchanging view of the whole database as it was when taken (LevelDB's snapshot), for a backup.

    Reading it may happen in another thread while the node keeps writing; close it when done."""

    def __init__(self, snapshot: plyvel.Snapshot, released: Callable[[], None] = lambda: None) -> None:
        self._snapshot = snapshot
        self._released: Callable[[], None] | None = released

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every key and value, in key order."""
        yield from self._snapshot.iterator()

    def close(self) -> None:
        self._snapshot.close()
        released, self._released = self._released, None
        if released is not None:  # once, however often closed
            released()


def _reason(exc: plyvel.Error) -> str:
    """LevelDB's message (plyvel passes it as bytes)."""
    message = exc.args[0] if exc.args else ""
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return text or type(exc).__name__


def create_database(path: Path, items: Iterable[tuple[bytes, bytes]]) -> int:
    """A new database at ``path`` holding ``items`` (a restored backup); refuses one that exists. Returns the count."""
    db = plyvel.DB(str(path), create_if_missing=True, error_if_exists=True)
    count = 0
    try:
        batch = db.write_batch(sync=True)
        for key, value in items:
            batch.put(key, value)
            count += 1
            if count % 10_000 == 0:
                batch.write()
                batch = db.write_batch(sync=True)
        batch.write()
    finally:
        db.close()
    return count


def locked_by_another(path: Path) -> str | None:
    """LevelDB's reason when another process has the database at ``path`` open (None: nobody does, or no database)."""
    if not Path(path).is_dir():
        return None
    try:
        plyvel.DB(str(path)).close()
    except plyvel.IOError as exc:
        return str(exc) if "lock" in str(exc).lower() else None
    except plyvel.Error:
        return None
    return None


def repair(path: Path) -> None:
    """LevelDB's own repair: salvages what it can of a damaged database."""
    plyvel.repair_db(str(path))
