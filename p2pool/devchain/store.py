"""LevelDB storage of devchain blocks (plyvel): every accepted block, keyed by height then hash.

Iterating the keys yields parents before children, so a restart replays the blocks in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import plyvel

from sharechain.bitcoin.hashing import hash_to_hex

_BLOCK = b"b"
_GENESIS = b"genesis"


class StoreMismatch(Exception):
    """The datadir holds a devchain with another genesis block (other parameters, e.g. bits)."""


class BlockStore:
    def __init__(self, path: Path, genesis_hash: bytes) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = plyvel.DB(str(path), create_if_missing=True)
        stored = self._db.get(_GENESIS)
        if stored is None:
            self._db.put(_GENESIS, genesis_hash, sync=True)
        elif stored != genesis_hash:
            self._db.close()
            raise StoreMismatch(
                f"{path} holds a devchain with genesis {hash_to_hex(stored)}, but these parameters give "
                f"{hash_to_hex(genesis_hash)} (different bits?); use another datadir or the original parameters")

    @staticmethod
    def _key(height: int, block_hash: bytes) -> bytes:
        return _BLOCK + height.to_bytes(4, "big") + block_hash

    def put(self, height: int, block_hash: bytes, raw: bytes) -> None:
        self._db.put(self._key(height, block_hash), raw, sync=True)

    def delete(self, height: int, block_hash: bytes) -> None:
        self._db.delete(self._key(height, block_hash), sync=True)

    def blocks(self) -> Iterator[tuple[int, bytes, bytes]]:
        """(height, hash, raw block) in height order."""
        for key, raw in self._db.iterator(prefix=_BLOCK):
            yield int.from_bytes(key[1:5], "big"), key[5:], raw

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()
