"""Checking one ``mining.submit`` against the job it names: parameters, ntime, version bits, target."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from p2pool.stratum.job import Solution, StratumJob, build_coinbase, build_header
from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.stratum import codec as p
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target, hash_difficulty
from sharechain.bitcoin.stratum.work import EXTRANONCE2_SIZE

# How far a submitted ntime may stray from the job's, whatever the job's own bounds say.
NTIME_WINDOW = 7200
_HEX = re.compile(r"[0-9a-fA-F]*")


class SubmitError(Exception):
    """A refused submit: the Stratum error code, a short reason key for stats, and the message sent."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Submit:
    """A parsed submit; ``version_bits`` is None when the miner sent only five parameters."""

    worker: str
    job_id: str
    extranonce2: bytes
    ntime: int
    nonce: int
    version_bits: int | None


def _bad(message: str) -> SubmitError:
    return SubmitError(p.OTHER, "bad-params", message)


def _hex_field(value: object, size: int, name: str) -> bytes:
    if not isinstance(value, str):
        raise _bad(f"{name} must be a hex string")
    if len(value) != 2 * size or not _HEX.fullmatch(value):
        raise _bad(f"{name} must be {2 * size} hex digits ({size} bytes), got {value[:80]!r}")
    return bytes.fromhex(value)


def parse_submit(params: list[object]) -> Submit:
    """[worker, job_id, extranonce2, ntime, nonce(, version_bits)] -> Submit, or SubmitError (code 20)."""
    if len(params) not in (5, 6):
        raise _bad("mining.submit takes [worker, job_id, extranonce2, ntime, nonce] and optional version_bits")
    worker, job_id = params[0], params[1]
    if not isinstance(worker, str) or not isinstance(job_id, str):
        raise _bad("mining.submit: worker and job_id must be strings")
    extranonce2 = _hex_field(params[2], EXTRANONCE2_SIZE, "extranonce2")
    ntime = int.from_bytes(_hex_field(params[3], 4, "ntime"), "big")
    nonce = int.from_bytes(_hex_field(params[4], 4, "nonce"), "big")
    version_bits = int.from_bytes(_hex_field(params[5], 4, "version_bits"), "big") if len(params) == 6 else None
    return Submit(worker.strip(), job_id, extranonce2, ntime, nonce, version_bits)


def check_submit(
    submit: Submit, job: StratumJob, difficulty: Fraction, extranonce1: bytes, version_mask: int, payout: bytes,
    target: int | None = None,
) -> Solution:
    """Rebuild the header of a submit and check it; a Solution if it meets ``difficulty`` (whose target the
    caller may pass, computed once)."""
    if not job.min_ntime <= submit.ntime <= job.max_ntime:
        raise SubmitError(
            p.OTHER, "bad-ntime", f"ntime {submit.ntime:08x} out of range [{job.min_ntime:08x}, {job.max_ntime:08x}]"
        )
    if abs(submit.ntime - job.ntime) > NTIME_WINDOW:
        raise SubmitError(
            p.OTHER, "bad-ntime", f"ntime {submit.ntime:08x} more than {NTIME_WINDOW} s from the job's {job.ntime:08x}"
        )
    version = job.version
    if submit.version_bits is not None:
        if submit.version_bits & ~version_mask:
            raise SubmitError(
                p.OTHER,
                "bad-version",
                f"version bits {submit.version_bits:08x} outside the negotiated mask {version_mask:08x}",
            )
        version = (job.version & ~version_mask) | (submit.version_bits & version_mask)
    coinbase = build_coinbase(job, extranonce1, submit.extranonce2, payout)
    header = build_header(job, coinbase, submit.ntime, submit.nonce, version)
    digest = sha256d(header)
    if hash_to_int(digest) > (difficulty_to_target(difficulty) if target is None else target):
        raise SubmitError(
            p.LOW_DIFFICULTY,
            "low-difficulty",
            f"Low difficulty share (share difficulty {hash_difficulty(hash_to_int(digest)):.6g},"
            f" needed {float(difficulty):.6g})",
        )
    return Solution(
        job=job, worker=submit.worker, payout_script=payout, extranonce1=extranonce1,
        extranonce2=submit.extranonce2, ntime=submit.ntime, nonce=submit.nonce, version=version,
        header=header, coinbase=coinbase, hash=digest,
    )
