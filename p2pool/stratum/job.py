"""What the node hands the Stratum server (a job), what comes back (a solution), and the job's notify.

The byte orders are those of :mod:`sharechain.bitcoin.stratum.work`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sharechain.bitcoin.stratum.work import coinbase_bytes, header_bytes, merkle_root_from_branch, swap_words, u32_hex


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


def build_coinbase(job: StratumJob, extranonce1: bytes, extranonce2: bytes) -> bytes:
    return coinbase_bytes(job.coinb1, extranonce1, extranonce2, job.coinb2)


def build_header(job: StratumJob, coinbase: bytes, ntime: int, nonce: int, version: int) -> bytes:
    """The 80-byte header of ``job`` for this coinbase, time, nonce and (possibly rolled) version."""
    root = merkle_root_from_branch(coinbase, job.merkle_branch)
    return header_bytes(version, job.prev_hash, root, ntime, job.bits, nonce)


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
