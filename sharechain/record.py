"""What the sharechain keeps in memory (and in the store's index) about an accepted share."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sharechain.bitcoin.serialize import ByteReader, ser_varbytes
from sharechain.bitcoin.target import bits_to_target, work_from_target
from sharechain.share import MAX_PAYOUT_SCRIPT_SIZE, MAX_UNCLES_ON_WIRE, Share

_FIXED = struct.Struct("<32sIII")


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
        self.target = bits_to_target(self.share_bits)
        self.work = work_from_target(self.target)

    def serialize(self) -> bytes:
        return (_FIXED.pack(self.prev_hash, self.height, self.timestamp, self.share_bits)
                + ser_varbytes(self.payout_script) + bytes((len(self.uncles),)) + b"".join(self.uncles))

    @classmethod
    def parse(cls, share_hash: bytes, raw: bytes) -> ShareRecord:
        reader = ByteReader(raw)
        prev_hash, height, timestamp, share_bits = _FIXED.unpack(reader.read(_FIXED.size))
        script = reader.read_varbytes(MAX_PAYOUT_SCRIPT_SIZE)
        count = reader.read_u8()
        if count > MAX_UNCLES_ON_WIRE:
            raise ValueError("too many uncles in a stored record")
        uncles = tuple(reader.read(32) for _ in range(count))
        reader.expect_end()
        return cls(share_hash, prev_hash, height, timestamp, share_bits, script, uncles)
