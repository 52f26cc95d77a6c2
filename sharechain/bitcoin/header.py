"""The 80-byte block header."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sharechain.bitcoin.frozen import builder
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.serialize import ParseError

HEADER_SIZE = 80
_HEADER = struct.Struct("<i32s32sIII")


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """Hashes are in internal byte order; integers as the header holds them."""

    version: int
    prev_hash: bytes
    merkle_root: bytes
    timestamp: int
    bits: int
    nonce: int

    def serialize(self) -> bytes:
        return _HEADER.pack(self.version, self.prev_hash, self.merkle_root, self.timestamp, self.bits, self.nonce)

    def hash(self) -> bytes:
        return sha256d(self.serialize())

    @classmethod
    def parse(cls, raw: bytes) -> BlockHeader:
        if len(raw) != HEADER_SIZE:
            raise ParseError(f"a block header is 80 bytes, got {len(raw)}")
        return _build_header(*_HEADER.unpack(raw))


_build_header = builder(BlockHeader)
