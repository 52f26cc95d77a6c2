"""A backup's manifest: what it is of (network, peer ID, tip) and every file with its size and SHA-256.

:func:`verify` checks a backup directory against its manifest before anything is restored from it;
each problem is a :class:`BackupError` naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FORMAT = "otedama-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "sharechain.dump"
# File names a backup may hold: plain names, no directories (nothing can be written outside the target).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_MAX_MANIFEST = 1024 * 1024


class BackupError(RuntimeError):
    """A backup that cannot be used, or a restore that must not happen; the message says why."""


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str
    mode: int = 0o644


@dataclass(frozen=True)
class Manifest:
    network: str
    network_id: str  # hex
    created: float  # epoch seconds
    otedama: str  # the version that made it
    peer_id: str | None
    tip: str | None  # hex, as /api/status shows it
    height: int | None
    shares: int
    blocks_found: int
    records: int  # key/value pairs in the sharechain dump
    files: tuple[FileEntry, ...]

    def to_json(self) -> str:
        body = asdict(self)
        body["files"] = [asdict(entry) for entry in self.files]
        return json.dumps({"format": FORMAT, "version": FORMAT_VERSION, **body}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            body = json.loads(text)
            if body.get("format") != FORMAT:
                raise BackupError(f"{MANIFEST} is not an Otedama backup manifest")
            if body.get("version") != FORMAT_VERSION:
                raise BackupError(f"backup format {body.get('version')!r}; this version reads {FORMAT_VERSION}")
            files = tuple(FileEntry(str(f["name"]), int(f["size"]), str(f["sha256"]), int(f.get("mode", 0o644)))
                          for f in body["files"])
            return cls(str(body["network"]), str(body["network_id"]), float(body["created"]), str(body["otedama"]),
                       _optional(body["peer_id"], str), _optional(body["tip"], str), _optional(body["height"], int),
                       int(body["shares"]), int(body["blocks_found"]), int(body["records"]), files)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"{MANIFEST} is damaged: {type(exc).__name__}: {exc}") from None

    def entry(self, name: str) -> FileEntry | None:
        return next((entry for entry in self.files if entry.name == name), None)


def _optional(value: Any, kind: type) -> Any:
    return None if value is None else kind(value)


def hash_file(path: Path) -> tuple[int, str]:
    """(size, SHA-256 hex) of ``path``."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def file_entry(path: Path, mode: int = 0o644) -> FileEntry:
    size, sha = hash_file(path)
    return FileEntry(path.name, size, sha, mode)


def valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name)) and name != MANIFEST


def read_manifest(directory: Path) -> Manifest:
    """The manifest of the backup in ``directory``, not yet checked against the files."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise BackupError(f"{directory} is not an Otedama backup: it has no {MANIFEST}")
    if path.stat().st_size > _MAX_MANIFEST:
        raise BackupError(f"{path} is larger than any manifest ({path.stat().st_size} bytes)")
    return Manifest.from_json(path.read_text(errors="replace"))


def verify(directory: Path) -> Manifest:
    """The manifest of the backup in ``directory`` once every file it lists is there, whole and unchanged."""
    manifest = read_manifest(directory)
    if manifest.entry(DUMP) is None:
        raise BackupError(f"the backup in {directory} has no {DUMP} (the sharechain)")
    for entry in manifest.files:
        if not valid_name(entry.name):
            raise BackupError(f"the manifest names a file {entry.name!r}, which no backup holds")
    for entry in manifest.files:
        file = Path(directory) / entry.name
        if not file.is_file():
            raise BackupError(f"{file} is missing")
        size, sha = hash_file(file)
        if size != entry.size or sha != entry.sha256:
            raise BackupError(f"{file} is damaged or was changed: {size} bytes with SHA-256 {sha[:16]}..., the "
                              f"manifest says {entry.size} bytes with {entry.sha256[:16]}...")
    return manifest
