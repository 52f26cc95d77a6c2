"""Turning a Stratum job into headers to scan, with no I/O.

A :class:`WorkPlan` walks one job's search space: every 2**32 nonces of a header it rolls the
version bits the server granted (BIP310), and when those run out it takes a fresh extranonce2 from
the connection's :class:`Extranonce2Counter` (so two jobs never share an extranonce2, and a job sent
again under a new id is not hashed twice).
"""

from __future__ import annotations

from dataclasses import dataclass

from miner.client import MinerJob
from sharechain.bitcoin.stratum.work import coinbase_bytes, header_bytes, merkle_root_from_branch

NONCE_SPACE = 1 << 32


@dataclass(frozen=True)
class Work:
    """One header to scan: the job, its extranonce2 and version, and the 76 bytes before the nonce."""

    job: MinerJob
    extranonce2: bytes
    version: int
    version_bits: int | None  # sent with a submit when the version was rolled
    header76: bytes

    def header(self, nonce: int) -> bytes:
        return self.header76 + nonce.to_bytes(4, "little")


@dataclass(frozen=True)
class Chunk:
    work: Work
    start: int
    count: int


class Extranonce2Counter:
    """Hands out extranonce2 values of the subscribed size, counting up (and wrapping)."""

    def __init__(self, size: int, start: int = 0) -> None:
        self.size = size
        self._next = start

    def take(self) -> bytes:
        value = self._next.to_bytes(self.size, "big")
        self._next = (self._next + 1) % (1 << (8 * self.size))
        return value


def make_work(job: MinerJob, extranonce1: bytes, extranonce2: bytes, version: int, mask: int = 0) -> Work:
    """The header for this extranonce2 and version; ``mask`` is the negotiated version-rolling mask."""
    if (version ^ job.version) & ~mask & 0xFFFFFFFF:
        raise ValueError(f"version {version:08x} changes bits outside the mask {mask:08x}")
    coinbase = coinbase_bytes(job.coinb1, extranonce1, extranonce2, job.coinb2)
    root = merkle_root_from_branch(coinbase, job.merkle_branch)
    header76 = header_bytes(version, job.prev_hash, root, job.ntime, job.bits, 0)[:76]
    bits = None if version == job.version else version & mask
    return Work(job, extranonce2, version, bits, header76)


def spread_bits(value: int, mask: int) -> int:
    """Deposit the low bits of ``value`` into the set bits of ``mask``, lowest first."""
    out = 0
    bit = 0
    while mask:
        low = mask & -mask
        if value >> bit & 1:
            out |= low
        mask ^= low
        bit += 1
    return out


class WorkPlan:
    """The search through one job; call :meth:`next_chunk` then :meth:`advance` with what was hashed."""

    def __init__(
        self,
        job: MinerJob,
        extranonce1: bytes,
        extranonce2: Extranonce2Counter,
        version_mask: int = 0,
        nonce_space: int = NONCE_SPACE,
    ) -> None:
        self.job = job
        self._extranonce1 = extranonce1
        self._extranonce2 = extranonce2
        self._mask = version_mask
        self._rolls = 1 << version_mask.bit_count()
        self._nonce_space = nonce_space
        self._roll = 0
        self._next_nonce = 0
        self.work = make_work(job, extranonce1, extranonce2.take(), job.version, version_mask)

    def next_chunk(self, size: int) -> Chunk:
        """Up to ``size`` nonces of the current header (never crossing the end of the nonce space)."""
        if self._next_nonce >= self._nonce_space:
            self._next_header()
        return Chunk(self.work, self._next_nonce, min(size, self._nonce_space - self._next_nonce))

    def advance(self, chunk: Chunk, hashes_done: int) -> None:
        """Mark ``[chunk.start, chunk.start + hashes_done)`` as searched."""
        if chunk.work is self.work:
            self._next_nonce = max(self._next_nonce, chunk.start + hashes_done)

    def _next_header(self) -> None:
        self._next_nonce = 0
        self._roll += 1
        extranonce2 = self.work.extranonce2
        if self._roll >= self._rolls:
            self._roll = 0
            extranonce2 = self._extranonce2.take()
        # XOR walks every value of the masked bits once, starting from the job's own version
        version = self.job.version ^ spread_bits(self._roll, self._mask)
        self.work = make_work(self.job, self._extranonce1, extranonce2, version, self._mask)
