"""What the sharechain keeps in memory (and in the store's index) about an accepted share."""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from sharechain.bitcoin.header import HEADER_SIZE
from sharechain.bitcoin.serialize import ser_varbytes
from sharechain.bitcoin.target import bits_to_target, work_from_target
from sharechain.share import MAX_PAYOUT_SCRIPT_SIZE, MAX_UNCLES_ON_WIRE, Share

_FIXED = struct.Struct("<32sIII")
# Cumulative work fits in 40 bytes (the P2P protocol's limit too): 2^256 work per share, 2^64 shares.
MAX_WORK_BYTES = 40


@functools.lru_cache(maxsize=4096)
def target_and_work(bits: int) -> tuple[int, int]:
    """The target ``bits`` encode and its work (cached: a chain carries a few distinct targets; an
    encoding that does not decode raises ValueError each time)."""
    target = bits_to_target(bits)
    return target, work_from_target(target)


@dataclass(slots=True)
class ShareRecord:
    """An accepted share's consensus fields, its header (what a joining node checks first), and the
    cumulative values derived from its ancestors."""

    hash: bytes
    prev_hash: bytes
    height: int
    timestamp: int
    share_bits: int
    payout_script: bytes
    uncles: tuple[bytes, ...]
    header: bytes = b""
    target: int = 0
    work: int = 0
    # Cumulative work of the chain ending here: own work plus uncles' work, summed over ancestors.
    chain_work: int = 0
    # Sum of main-chain shares' own work up to and including this one (for the retarget).
    main_work: int = 0

    @classmethod
    def from_share(cls, share: Share) -> ShareRecord:
        info = share.info
        header = share.raw[1 : 1 + HEADER_SIZE] if share.raw else share.header.serialize()
        return cls(share.hash, info.prev_hash, info.height, info.timestamp, info.share_bits,
                   info.payout_script, info.uncles, header)

    def fill_work(self) -> None:
        self.target, self.work = target_and_work(self.share_bits)

    def serialize(self) -> bytes:
        """The stored index record: the share's fields, its header and its cumulative work."""
        return b"".join((_FIXED.pack(self.prev_hash, self.height, self.timestamp, self.share_bits), self.header,
                         ser_varbytes(self.payout_script), bytes((len(self.uncles),)), *self.uncles,
                         _work_bytes(self.chain_work), _work_bytes(self.main_work)))

    @classmethod
    def parse(cls, share_hash: bytes, raw: bytes) -> ShareRecord:
        """Decode a stored record (hot on restart, so it slices instead of using a reader)."""
        start = _FIXED.size + HEADER_SIZE
        if len(raw) < start + 4:
            raise ValueError("record too short")
        prev_hash, height, timestamp, share_bits = _FIXED.unpack_from(raw)
        script_end = start + 1 + raw[start]
        if raw[start] > MAX_PAYOUT_SCRIPT_SIZE or script_end >= len(raw):
            raise ValueError("bad payout script length")
        count = raw[script_end]
        uncles_end = script_end + 1 + 32 * count
        if count > MAX_UNCLES_ON_WIRE or uncles_end >= len(raw):
            raise ValueError("bad uncle list")
        uncles = tuple(raw[script_end + 1 + 32 * i : script_end + 33 + 32 * i] for i in range(count))
        chain_work, at = _read_work(raw, uncles_end)
        main_work, at = _read_work(raw, at)
        if at != len(raw):
            raise ValueError("trailing bytes")
        record = cls(share_hash, prev_hash, height, timestamp, share_bits, raw[start + 1 : script_end], uncles,
                     raw[_FIXED.size : start])
        record.chain_work, record.main_work = chain_work, main_work
        return record


def _work_bytes(work: int) -> bytes:
    raw = work.to_bytes((work.bit_length() + 7) // 8, "big")
    if len(raw) > MAX_WORK_BYTES:
        raise ValueError("cumulative work too large")
    return bytes((len(raw),)) + raw


def _read_work(raw: bytes, at: int) -> tuple[int, int]:
    if at >= len(raw) or raw[at] > MAX_WORK_BYTES or at + 1 + raw[at] > len(raw):
        raise ValueError("bad cumulative work")
    end = at + 1 + raw[at]
    return int.from_bytes(raw[at + 1 : end], "big"), end
