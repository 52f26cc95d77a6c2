"""verify_headers: every kind against brute force on mixed batches of real and random headers."""

from __future__ import annotations

import random

import pytest

from kernels import verify_headers
from tests.kernels.conftest import require
from tests.kernels.header_vectors import all_vectors, cpuminer_shares, hash_of, random_headers

KINDS = ["hashlib", "numba", "opencl", "auto"]
SMALL_BATCH = 64  # kernels.numba_cpu.SMALL_BATCH: below it the Numba path hands the batch to hashlib


def value(header: bytes) -> int:
    return hash_of(header[:76], int.from_bytes(header[76:], "little"))


def mixed_batch(size: int, seed: int) -> tuple[list[bytes], list[int]]:
    """Real headers at their own hash (valid), one below it (invalid) and at share targets, plus random ones."""
    rng = random.Random(seed)
    headers: list[bytes] = []
    targets: list[int] = []
    for vector in all_vectors():
        exact = int(vector.hash_display, 16)
        headers += [vector.header, vector.header]
        targets += [exact, exact - 1]
    for vector, share_target in cpuminer_shares():
        headers.append(vector.header)
        targets.append(share_target)
    for header in random_headers(max(0, size - len(headers)), seed):
        headers.append(header)
        targets.append(rng.choice([0, (1 << 256) - 1, value(header), value(header) - 1, rng.getrandbits(256)]))
    order = list(range(len(headers)))[:size]
    rng.shuffle(order)
    return [headers[i] for i in order], [targets[i] for i in order]


def expected(headers: list[bytes], targets: list[int]) -> list[bool]:
    return [value(h) <= t for h, t in zip(headers, targets, strict=True)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [0, 1, 5, SMALL_BATCH - 1, SMALL_BATCH, 115, 1000])
def test_verify_agrees_with_brute_force(kind: str, size: int) -> None:
    if kind in ("numba", "opencl"):
        require(kind)
    headers, targets = mixed_batch(size, seed=size)
    want = expected(headers, targets)
    if size >= 115:
        assert True in want and False in want
    assert verify_headers(b"".join(headers), targets, kind) == want


def test_large_batch_split_over_threads() -> None:
    require("numba")
    from kernels import numba_cpu

    assert numba_cpu.SMALL_BATCH == SMALL_BATCH
    headers, targets = mixed_batch(20_000, seed=7)
    assert verify_headers(b"".join(headers), targets, "numba") == expected(headers, targets)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_batches_are_refused(kind: str) -> None:
    if kind in ("numba", "opencl"):
        require(kind)
    header = all_vectors()[0].header
    with pytest.raises(ValueError, match="multiple of 80"):
        verify_headers(header + b"\0", [1], kind)
    with pytest.raises(ValueError, match="targets"):
        verify_headers(header * 2, [1], kind)
    for bad in (-1, 1 << 256):
        with pytest.raises(ValueError, match="target"):
            verify_headers(header * SMALL_BATCH, [1] * (SMALL_BATCH - 1) + [bad], kind)


@pytest.mark.parametrize("kind", KINDS)
def test_batch_with_few_distinct_targets(kind: str) -> None:
    """A share batch usually repeats a few targets (converted once each); the answers must not change."""
    if kind in ("numba", "opencl"):
        require(kind)
    headers = random_headers(3000, seed=5)
    targets = [(1 << 255, 1 << 254, 1 << 250)[i % 3] for i in range(len(headers))]
    want = expected(headers, targets)
    assert True in want and False in want
    assert verify_headers(b"".join(headers), targets, kind) == want
    with pytest.raises(ValueError, match="target"):
        verify_headers(b"".join(headers), targets[:-1] + [1 << 256], kind)
