"""Numba on the CPU: the SIMD lane kernels of ``kernels.numba_kernel`` run on one thread per core.

The kernels release the GIL (``nogil``), so a scan splits its range into one piece per thread and
runs them side by side; it is safe to call from several threads at once. Compiled code is cached
on disk (``cache=True``): the first use compiles for a few seconds, later processes load it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kernels.base import (
    HEADER_SIZE,
    MAX_NONCES,
    ScanResult,
    check_headers,
    check_scan_args,
    confirm,
    top_word,
)
from kernels.batch import header_words, target_words
from kernels.numba_kernel import LANES, scan_kernel, verify_kernel
from kernels.parallel import cpu_count, run_all, split_range
from kernels.reference import verify_headers_hashlib
from kernels.sha256 import precompute

CANDIDATE_SLOTS = MAX_NONCES  # the kernel pauses for host confirmation when these fill up
MIN_PART = 1 << 14  # nonces per piece; smaller scans stay on one thread
PIECES_PER_THREAD = 4  # threads pull pieces as they finish, so a core busy with other work does less
SMALL_BATCH = 64  # headers below which verify_headers uses hashlib (no array set-up)
MIN_VERIFY_PART = 1 << 12  # headers per thread below which a batch stays on one thread


class NumbaScanner:
    """Nonce scan on ``threads`` cores (all of them by default)."""

    name = "numba"

    def __init__(self, threads: int | None = None) -> None:
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads or cpu_count()

    def describe(self) -> str:
        return f"numba, {self.threads} thread{'s' if self.threads > 1 else ''}"

    def scan(self, header76: bytes, target: int, start_nonce: int, count: int) -> ScanResult:
        check_scan_args(header76, target, start_nonce, count)
        if count == 0:
            return ScanResult((), 0)
        pre = np.array(precompute(header76), dtype=np.uint32)
        tgt_hi = np.uint32(top_word(target))
        pieces = split_range(start_nonce, count, PIECES_PER_THREAD * self.threads, MIN_PART)
        results = run_all([_PieceScan(header76, pre, target, tgt_hi, s, n) for s, n in pieces], self.threads)
        nonces = sorted(n for found, _ in results for n in found)[:MAX_NONCES]
        return ScanResult(tuple(nonces), sum(done for _, done in results))


class _PieceScan:
    """One thread's share of a scan: run the kernel, confirm its candidates, go on if it filled up."""

    def __init__(self, header76: bytes, pre: np.ndarray, target: int, tgt_hi: np.uint32, start: int, count: int):
        self.args = (header76, pre, target, tgt_hi, start, count)

    def __call__(self) -> tuple[list[int], int]:
        header76, pre, target, tgt_hi, start, count = self.args
        out = np.empty(CANDIDATE_SLOTS, dtype=np.int64)
        found: list[int] = []
        done = 0
        while done < count and len(found) < MAX_NONCES:
            hits, examined = scan_kernel(pre, tgt_hi, start + done, count - done, out)
            done += examined
            found += confirm(header76, target, out[:hits].tolist())
        return found[:MAX_NONCES], done


def verify_headers_numba(headers: bytes, targets: Sequence[int], threads: int | None = None) -> list[bool]:
    """``result[i]`` is sha256d(header i) <= targets[i]; small batches go to hashlib."""
    n = check_headers(headers, targets)
    if n < SMALL_BATCH:
        return verify_headers_hashlib(headers, targets)
    raw = header_words(headers, n)
    tgt = target_words(targets)
    threads = threads or cpu_count()
    pieces = split_range(0, n, PIECES_PER_THREAD * threads, MIN_VERIFY_PART)
    results = run_all([_VerifyPiece(raw[s : s + c], tgt[s : s + c]) for s, c in pieces], threads)
    return np.concatenate(results).tolist()


class _VerifyPiece:
    """One thread's share of a verify batch, laid out as the kernel wants it (one column per header)."""

    def __init__(self, raw: np.ndarray, tgt: np.ndarray) -> None:
        self.raw, self.tgt = raw, tgt

    def __call__(self) -> np.ndarray:
        n = len(self.raw)
        padded = -(-n // LANES) * LANES
        words = np.zeros((HEADER_SIZE // 4, padded), dtype=np.uint32)
        words[:, :n] = self.raw.T
        tgt = np.zeros((padded, 8), dtype=np.uint32)
        tgt[:n] = self.tgt
        out = np.empty(padded, dtype=np.bool_)
        verify_kernel(words, tgt, out)
        return out[:n]
