"""What the node hands the Stratum server (a job), what comes back (a solution), and how headers are built.

Byte orders follow the de facto wire format (see the cpuminer vector): the coinbase is
``coinb1 || extranonce1 || extranonce2 || coinb2`` as-is, merkle branch entries and ``prev_hash`` are
internal order, and ``version``/``nbits``/``ntime``/``nonce`` travel as big-endian hex of the header's
little-endian uint32. The notify ``prevhash`` is the internal hash with each 4-byte word reversed.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.merkle import root_from_coinbase_branch

EXTRANONCE1_SIZE = 4
EXTRANONCE2_SIZE = 4
_HEADER = struct.Struct("<I32s32sIII")


@dataclass(frozen=True)
class StratumJob:
    """A job for miners of one payout script; hashes in internal order, integers as the header holds them."""

    job_id: str
    prev_hash: bytes
    coinb1: bytes
    coinb2: bytes
    merkle_branch: tuple[bytes, ...]
    version: int
    bits: int
    ntime: int
    min_ntime: int
    max_ntime: int
    clean: bool
    share_target: int
    block_target: int


@dataclass(frozen=True)
class Solution:
    """A submit that met the connection's difficulty; the node checks share and block targets itself."""

    job: StratumJob
    worker: str
    payout_script: bytes
    extranonce1: bytes
    extranonce2: bytes
    ntime: int
    nonce: int
    version: int
    header: bytes
    coinbase: bytes
    hash: bytes


def coinbase_bytes(coinb1: bytes, extranonce1: bytes, extranonce2: bytes, coinb2: bytes) -> bytes:
    """The coinbase transaction (without witness) a miner builds from a notify."""
    return coinb1 + extranonce1 + extranonce2 + coinb2


def merkle_root_from_branch(coinbase: bytes, branch: Sequence[bytes]) -> bytes:
    """The header's merkle root: sha256d(coinbase) folded up the branch, internal order."""
    return root_from_coinbase_branch(sha256d(coinbase), branch)


def header_bytes(version: int, prev_hash: bytes, merkle_root: bytes, ntime: int, bits: int, nonce: int) -> bytes:
    """The 80-byte block header (all integers as unsigned 32-bit little-endian)."""
    return _HEADER.pack(version & 0xFFFFFFFF, prev_hash, merkle_root, ntime, bits, nonce)


def build_coinbase(job: StratumJob, extranonce1: bytes, extranonce2: bytes) -> bytes:
    return coinbase_bytes(job.coinb1, extranonce1, extranonce2, job.coinb2)


def build_header(job: StratumJob, coinbase: bytes, ntime: int, nonce: int, version: int) -> bytes:
    """The 80-byte header of ``job`` for this coinbase, time, nonce and (possibly rolled) version."""
    root = merkle_root_from_branch(coinbase, job.merkle_branch)
    return header_bytes(version, job.prev_hash, root, ntime, job.bits, nonce)


def swap_words(data: bytes) -> bytes:
    """Reverse the bytes of each 4-byte word: internal prev hash <-> notify ``prevhash`` (an involution)."""
    if len(data) % 4:
        raise ValueError("word swap needs a multiple of 4 bytes")
    return b"".join(data[i : i + 4][::-1] for i in range(0, len(data), 4))


def u32_hex(value: int) -> str:
    """A uint32 as Stratum writes version, nbits, ntime and nonce: 8 hex digits, big-endian."""
    return f"{value & 0xFFFFFFFF:08x}"


def notify_params(job: StratumJob, job_id: str, clean: bool) -> list[object]:
    """The nine ``mining.notify`` parameters for ``job`` sent under ``job_id``."""
    return [
        job_id,
        swap_words(job.prev_hash).hex(),
        job.coinb1.hex(),
        job.coinb2.hex(),
        [h.hex() for h in job.merkle_branch],
        u32_hex(job.version),
        u32_hex(job.bits),
        u32_hex(job.ntime),
        clean,
    ]
