"""Bitcoin's wire encoding: little-endian integers, CompactSize and length-prefixed bytes."""

from __future__ import annotations

import struct


class ParseError(ValueError):
    """Bytes that do not decode as the structure they claim to be."""


def ser_varint(n: int) -> bytes:
    if n < 0:
        raise ValueError("CompactSize cannot be negative")
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


def ser_varbytes(data: bytes) -> bytes:
    return ser_varint(len(data)) + data


class ByteReader:
    """A cursor over bytes that raises :class:`ParseError` instead of reading past the end."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def read(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise ParseError(f"truncated: wanted {n} bytes at offset {self.pos}, have {len(self.data) - self.pos}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def read_u8(self) -> int:
        pos = self.pos
        if pos >= len(self.data):
            raise ParseError(f"truncated: wanted 1 byte at offset {pos}, have 0")
        self.pos = pos + 1
        return self.data[pos]

    def read_u32(self) -> int:
        return int.from_bytes(self.read(4), "little")

    def read_i32(self) -> int:
        return int.from_bytes(self.read(4), "little", signed=True)

    def read_u64(self) -> int:
        return int.from_bytes(self.read(8), "little")

    def read_varint(self) -> int:
        first = self.read_u8()  # (the one-byte form, nearly every count and length, returns here)
        if first < 0xFD:
            return first
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        value = int.from_bytes(self.read(size), "little")
        if value < (0xFD if size == 2 else 1 << (8 * size // 2)):
            raise ParseError("non-canonical CompactSize")
        return value

    def read_count(self, limit: int) -> int:
        """A CompactSize that counts items, refused above ``limit`` before anything is allocated."""
        n = self.read_varint()
        if n > limit:
            raise ParseError(f"count {n} exceeds the limit of {limit}")
        return n

    def read_varbytes(self, limit: int = 4_000_000) -> bytes:
        data, pos = self.data, self.pos
        size = len(data)
        if pos < size:  # a one-byte length, or a canonical three-byte one (a share, a coinbase), read inline
            first = data[pos]
            if first < 0xFD:
                start, n = pos + 1, first
            elif first == 0xFD and pos + 3 <= size:
                start, n = pos + 3, data[pos + 1] | data[pos + 2] << 8
                if n < 0xFD:
                    n = limit + 1  # non-canonical: the checked path below refuses it
            else:
                start, n = 0, limit + 1
            end = start + n
            if n <= limit and end <= size:
                self.pos = end
                return data[start:end]
        return self.read(self.read_count(limit))

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def expect_end(self) -> None:
        if self.pos != len(self.data):
            raise ParseError(f"{len(self.data) - self.pos} unexpected trailing bytes")
