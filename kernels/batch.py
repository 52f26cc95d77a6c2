"""Turning a verify batch into arrays: header words and target words, shared by the batch kernels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kernels.base import HEADER_SIZE, target_bytes

_SAMPLE = 1024  # targets looked at to guess whether the batch repeats a few of them


def header_words(headers: bytes, n: int) -> np.ndarray:
    """(n, 20) uint32: each header as the big-endian words SHA-256 reads."""
    return np.frombuffer(headers, dtype=">u4").reshape(n, HEADER_SIZE // 4).astype(np.uint32)


def target_words(targets: Sequence[int]) -> np.ndarray:
    """(n, 8) uint32: each target as little-endian words, word 7 the most significant.

    Batches of shares usually repeat a handful of targets; those are converted once each.
    """
    if len(set(targets[:_SAMPLE])) * 4 < min(len(targets), _SAMPLE):
        distinct = list(dict.fromkeys(targets))
        index = {t: i for i, t in enumerate(distinct)}
        table = np.frombuffer(b"".join(map(target_bytes, distinct)), dtype="<u4").reshape(-1, 8)
        rows = np.fromiter(map(index.__getitem__, targets), dtype=np.intp, count=len(targets))
        return table.astype(np.uint32)[rows]
    raw = np.frombuffer(b"".join(map(target_bytes, targets)), dtype="<u4")
    return raw.reshape(len(targets), 8).astype(np.uint32)
