"""A consistent snapshot of a running node, made by the node itself (``POST /api/backup``).

Consistency: in one synchronous step of the node's event loop, where no share can join in between,
the sharechain's facts (tip, height, count, found blocks) are read and LevelDB's snapshot is taken;
everything the share store holds (shares, index, found blocks, and whatever else keeps its history
there) is then written from that snapshot, unchanged by what the node does meanwhile. The peer book
is copied with SQLite's backup API (a consistent copy by SQLite's own locking); the ban list and the
other small files are replaced atomically whenever they change, so reading one gives one whole
version. The slow part (writing and hashing) runs in a worker thread.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import trio

from p2pool.backup.dump import write_dump
from p2pool.backup.manifest import DUMP, MANIFEST, Manifest, file_entry
from p2pool.storage.share_store import ShareStore, StoreSnapshot
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.chain import ShareChain
from sharechain.params import NetworkParams

WORK_DIR = "backup-tmp"
CONFIG = "config.toml"
# Files of the datadir a backup carries when they exist, with the mode they are restored with.
DATADIR_FILES: tuple[tuple[str, int], ...] = (
    ("p2p_identity.key", 0o600),  # the peer ID
    ("bans.json", 0o644),
    ("api-token", 0o600),
    ("dev-payout-address", 0o644),
)
SQLITE_FILES = ("peers.sqlite",)  # the peer book


@dataclass(frozen=True)
class SnapshotSources:
    """What a snapshot reads; ``config`` renders the node's effective configuration as TOML."""

    params: NetworkParams
    datadir: Path
    store: ShareStore
    chain: ShareChain
    blocks_found: Callable[[], int]
    peer_id: str | None
    config: Callable[[], str]
    version: str


class Snapshots:
    """Makes one backup at a time, as a tar file in the datadir's work directory."""

    def __init__(self, sources: SnapshotSources) -> None:
        self.sources = sources
        self._lock = trio.Lock()
        self.work_dir = sources.datadir / WORK_DIR
        shutil.rmtree(self.work_dir, ignore_errors=True)  # left by a node that was killed mid-backup

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def make(self) -> Path:
        """A tar of the snapshot (the caller deletes it when sent)."""
        async with self._lock:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            directory = self.work_dir / f"otedama-{self.sources.params.name}-{stamp}"
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            try:
                snapshot, manifest = self._freeze()
                try:
                    await trio.to_thread.run_sync(self._write, directory, snapshot, manifest)
                finally:
                    snapshot.close()
                return await trio.to_thread.run_sync(_tar, directory)
            finally:
                shutil.rmtree(directory, ignore_errors=True)

    def _freeze(self) -> tuple[StoreSnapshot, Manifest]:
        """The one synchronous step: the store's snapshot and the chain's facts at the same instant."""
        sources = self.sources
        tip = sources.chain.tip
        snapshot = sources.store.snapshot()
        manifest = Manifest(network=sources.params.name, network_id=sources.params.network_id.hex(),
                            created=time.time(), otedama=sources.version, peer_id=sources.peer_id,
                            tip=hash_to_hex(tip.hash) if tip else None, height=tip.height if tip else None,
                            shares=len(sources.chain), blocks_found=sources.blocks_found(), records=0, files=())
        return snapshot, manifest

    def _write(self, directory: Path, snapshot: StoreSnapshot, manifest: Manifest) -> None:
        records = write_dump(directory / DUMP, snapshot.items())
        entries = [file_entry(directory / DUMP)]
        datadir = self.sources.datadir
        for name, mode in DATADIR_FILES:
            if (datadir / name).is_file():
                shutil.copyfile(datadir / name, directory / name)
                entries.append(file_entry(directory / name, mode))
        for name in SQLITE_FILES:
            if (datadir / name).is_file():
                _copy_sqlite(datadir / name, directory / name)
                entries.append(file_entry(directory / name))
        (directory / CONFIG).write_text(self.sources.config())
        entries.append(file_entry(directory / CONFIG))
        final = replace(manifest, records=records, files=tuple(entries))
        _write_synced(directory / MANIFEST, final.to_json().encode())


def _copy_sqlite(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _tar(directory: Path) -> Path:
    """``directory`` as an uncompressed tar beside it, its files at the top level."""
    path = directory.with_suffix(".tar")
    with tarfile.open(path, "w") as tar:
        for file in sorted(directory.iterdir()):
            tar.add(file, arcname=file.name, recursive=False)
    return path

