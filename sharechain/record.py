"""What the sharechain keeps in memory (and in the store's index) about an accepted share."""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from sharechain.bitcoin.serialize import ser_varbytes
from sharechain.bitcoin.target import bits_to_target, work_from_target
from sharechain.share import MAX_PAYOUT_SCRIPT_SIZE, MAX_UNCLES_ON_WIRE, Share

_FIXED = struct.Struct("<32sIII")


@functools.lru_cache(maxsize=4096)
def _target_and_work(bits: int) -> tuple[int, int]:
    target = bits_to_target(bits)
    return target, work_from_target(target)


@dataclass(slots=True)
class ShareRecord:
    """An accepted share's consensus fields plus values derived from its ancestors."""

    hash: bytes
    prev_hash: bytes
    height: int
    timestamp: int
    share_bits: int
    payout_script: bytes
    uncles: tuple[bytes, ...]
    target: int = 0
    work: int = 0
    # Cumulative work of the chain ending here: own work plus uncles' work, summed over ancestors.
    chain_work: int = 0
    # Sum of main-chain shares' own work up to and including this one (for the retarget).
    main_work: int = 0

    @classmethod
    def from_share(cls, share: Share) -> ShareRecord:
        info = share.info
        return cls(share.hash, info.prev_hash, info.height, info.timestamp, info.share_bits,
                   info.payout_script, info.uncles)

    def fill_work(self) -> None:
        self.target, self.work = _target_and_work(self.share_bits)

    def serialize(self) -> bytes:
        return (_FIXED.pack(self.prev_hash, self.height, self.timestamp, self.share_bits)
                + ser_varbytes(self.payout_script) + bytes((len(self.uncles),)) + b"".join(self.uncles))

    @classmethod
    def parse(cls, share_hash: bytes, raw: bytes) -> ShareRecord:
        """Decode a stored record (hot on restart, so it slices instead of using a reader)."""
        if len(raw) < _FIXED.size + 2:
            raise ValueError("record too short")
        prev_hash, height, timestamp, share_bits = _FIXED.unpack_from(raw)
        script_end = _FIXED.size + 1 + raw[_FIXED.size]
        if raw[_FIXED.size] > MAX_PAYOUT_SCRIPT_SIZE or script_end >= len(raw):
            raise ValueError("bad payout script length")
        count = raw[script_end]
        if count > MAX_UNCLES_ON_WIRE or len(raw) != script_end + 1 + 32 * count:
            raise ValueError("bad uncle list")
        uncles = tuple(raw[script_end + 1 + 32 * i : script_end + 33 + 32 * i] for i in range(count))
        return cls(share_hash, prev_hash, height, timestamp, share_bits, raw[_FIXED.size + 1 : script_end], uncles)
