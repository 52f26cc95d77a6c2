"""``otedama restore DIR``: a verified backup written into a datadir that no node is using.

Order: the manifest and every file's SHA-256 are checked; the backup's network id must be this
version's; the datadir's lock is taken (a running node holds it, and so does LevelDB's own lock for
nodes of older versions), so nothing else can use the datadir while it is written; a datadir that
already holds something is refused unless ``force`` (then the old sharechain is moved aside, never
deleted). The sharechain is rebuilt from the dump beside its final place and loaded back, and its tip
must be the manifest's before it is renamed into place.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from p2pool.backup.dump import read_dump
from p2pool.backup.manifest import DUMP, MANIFEST, BackupError, Manifest, verify
from p2pool.backup.snapshot import CONFIG
from p2pool.storage.loader import load_chain
from p2pool.storage.lock import LOCK_FILE, DatadirInUse, DatadirLock
from p2pool.storage.share_store import ShareStore, StoreError, create_database, locked_by_another
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.params import NETWORKS, network

SHARECHAIN = "sharechain"
RESTORED_CONFIG = "restored-config.toml"


def restore(backup: Path, datadir: Path, *, force: bool = False) -> Manifest:
    """Write the backup in ``backup`` into ``datadir``; :class:`BackupError` says why not."""
    manifest = verify(backup)
    if manifest.network not in NETWORKS:
        raise BackupError(f"the backup is of network {manifest.network!r}, which this version does not know")
    params = network(manifest.network)
    if params.network_id.hex() != manifest.network_id:
        raise BackupError(f"the backup was made under other consensus rules of {manifest.network} (id "
                          f"{manifest.network_id}; this version runs id {params.network_id.hex()})")
    try:
        datadir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create datadir {datadir}: {exc.strerror or exc}") from None
    try:
        lock = DatadirLock(datadir, what="otedama process")
    except DatadirInUse as exc:
        raise BackupError(f"refusing to restore into {datadir}: {_in_use(exc)}") from None
    with lock:
        _check_leveldb_free(datadir)
        _make_room(datadir, force)
        _write_sharechain(backup, datadir, manifest)
        for entry in manifest.files:
            if entry.name not in (DUMP, CONFIG, MANIFEST):
                _copy(backup / entry.name, datadir / entry.name, entry.mode)
        if manifest.entry(CONFIG) is not None:
            _copy(backup / CONFIG, datadir / RESTORED_CONFIG, 0o600)
    return manifest


def _in_use(exc: DatadirInUse) -> str:
    return f"{str(exc).removeprefix('datadir ')}; stop that node first, or restore into another --datadir"


def _check_leveldb_free(datadir: Path) -> None:
    """A node of a version without the datadir lock still holds LevelDB's own."""
    if reason := locked_by_another(datadir / SHARECHAIN):
        raise BackupError(f"refusing to restore into {datadir}: its sharechain is open in another process "
                          f"({reason}); stop that node first")


def _make_room(datadir: Path, force: bool) -> None:
    present = sorted(p.name for p in datadir.iterdir() if p.name != LOCK_FILE)
    if not present:
        return
    if not force:
        raise BackupError(f"refusing to restore into {datadir}: it already holds {', '.join(present[:6])}"
                          f"{' ...' if len(present) > 6 else ''}; restore into a new --datadir, or give --force to "
                          "move its sharechain aside and replace it")
    if (datadir / SHARECHAIN).exists():
        aside = datadir / f"{SHARECHAIN}.replaced-{time.strftime('%Y%m%d-%H%M%S')}"
        (datadir / SHARECHAIN).rename(aside)


def _write_sharechain(backup: Path, datadir: Path, manifest: Manifest) -> None:
    building = datadir / f"{SHARECHAIN}.restoring"
    shutil.rmtree(building, ignore_errors=True)
    try:
        count = create_database(building, read_dump(backup / DUMP))
        if count != manifest.records:
            raise BackupError(f"the sharechain dump holds {count} records, the manifest says {manifest.records}")
        params = network(manifest.network)
        try:
            with ShareStore(building, params) as store:
                chain = load_chain(store, params)
        except StoreError as exc:
            raise BackupError(f"the restored sharechain does not load: {exc}") from None
        tip = hash_to_hex(chain.tip.hash) if chain.tip else None
        if tip != manifest.tip or len(chain) != manifest.shares:
            raise BackupError(f"the restored sharechain has tip {tip} and {len(chain)} shares; the backup was of "
                              f"tip {manifest.tip} with {manifest.shares}")
        building.rename(datadir / SHARECHAIN)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _copy(source: Path, target: Path, mode: int) -> None:
    """Replace ``target`` by a copy of ``source`` atomically, with ``mode``."""
    partial = target.with_name(target.name + ".restoring")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as data:
        shutil.copyfileobj(data, out)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(partial, mode)
    os.replace(partial, target)
