"""How a job's pieces become a coinbase and a header, in the de facto Stratum v1 byte orders.

The coinbase is ``coinb1 || extranonce1 || extranonce2 || coinb2`` as-is; merkle branch entries and
``prev_hash`` are internal order; ``version``/``nbits``/``ntime``/``nonce`` travel as big-endian hex of
the header's little-endian uint32; the notify ``prevhash`` is the internal hash with each 4-byte word
reversed (see the cpuminer vector).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.merkle import root_from_coinbase_branch

EXTRANONCE1_SIZE = 4
EXTRANONCE2_SIZE = 4
_HEADER = struct.Struct("<I32s32sIII")


def coinbase_bytes(coinb1: bytes, extranonce1: bytes, extranonce2: bytes, coinb2: bytes) -> bytes:
    """The coinbase transaction (without witness) a miner builds from a notify."""
    return coinb1 + extranonce1 + extranonce2 + coinb2


def merkle_root_from_branch(coinbase: bytes, branch: Sequence[bytes]) -> bytes:
    """The header's merkle root: sha256d(coinbase) folded up the branch, internal order."""
    return root_from_coinbase_branch(sha256d(coinbase), branch)


def header_bytes(version: int, prev_hash: bytes, merkle_root: bytes, ntime: int, bits: int, nonce: int) -> bytes:
    """The 80-byte block header (all integers as unsigned 32-bit little-endian)."""
    return _HEADER.pack(version & 0xFFFFFFFF, prev_hash, merkle_root, ntime, bits, nonce)


def swap_words(data: bytes) -> bytes:
    """Reverse the bytes of each 4-byte word: internal prev hash <-> notify ``prevhash`` (an involution)."""
    if len(data) % 4:
        raise ValueError("word swap needs a multiple of 4 bytes")
    return b"".join(data[i : i + 4][::-1] for i in range(0, len(data), 4))


def u32_hex(value: int) -> str:
    """A uint32 as Stratum writes version, nbits, ntime and nonce: 8 hex digits, big-endian."""
    return f"{value & 0xFFFFFFFF:08x}"
