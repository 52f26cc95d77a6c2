"""The sharechain database as one flat file: every LevelDB key and value, in key order.

Layout: the magic ``OTEDAMA-DUMP1\\n``, then for each pair a 4-byte big-endian key length, the key,
a 4-byte value length and the value, then a trailer (length 0xFFFFFFFF and the pair count, 8 bytes).
Independent of LevelDB's own file format and version; a torn or padded file is refused.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from p2pool.backup.manifest import BackupError

MAGIC = b"OTEDAMA-DUMP1\n"
_LENGTH = struct.Struct(">I")
_COUNT = struct.Struct(">Q")
_END = 0xFFFFFFFF
_MAX_ITEM = 16 * 1024 * 1024


def write_dump(path: Path, items: Iterable[tuple[bytes, bytes]]) -> int:
    """Write ``items`` to ``path`` (fsynced); returns how many."""
    count = 0
    with open(path, "wb") as out:
        out.write(MAGIC)
        for key, value in items:
            out.write(_LENGTH.pack(len(key)) + key + _LENGTH.pack(len(value)) + value)
            count += 1
        out.write(_LENGTH.pack(_END) + _COUNT.pack(count))
        out.flush()
        os.fsync(out.fileno())
    return count


def read_dump(path: Path) -> Iterator[tuple[bytes, bytes]]:
    """The pairs of the dump at ``path``; :class:`BackupError` as soon as it is not one whole dump."""
    with open(path, "rb") as data:
        if data.read(len(MAGIC)) != MAGIC:
            raise BackupError(f"{path} is not a sharechain dump")
        count = 0
        while True:
            length = _read_length(data, path)
            if length == _END:
                trailer = data.read(_COUNT.size)
                if len(trailer) != _COUNT.size or _COUNT.unpack(trailer)[0] != count or data.read(1):
                    raise BackupError(f"{path} is damaged: its trailer does not match its {count} records")
                return
            key = _read_exact(data, length, path)
            value = _read_exact(data, _read_length(data, path), path)
            count += 1
            yield key, value


def _read_length(data: BinaryIO, path: Path) -> int:
    raw = _read_exact(data, _LENGTH.size, path)
    length: int = _LENGTH.unpack(raw)[0]
    if length != _END and length > _MAX_ITEM:
        raise BackupError(f"{path} is damaged: a record of {length} bytes")
    return length


def _read_exact(data: BinaryIO, size: int, path: Path) -> bytes:
    chunk = data.read(size)
    if len(chunk) != size:
        raise BackupError(f"{path} is damaged: it ends in the middle of a record")
    return bytes(chunk)
