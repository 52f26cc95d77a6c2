"""Every scanner against brute force: real headers, planted edge solutions, target boundaries, limits."""

from __future__ import annotations

import pytest

from kernels import Scanner, ScanResult
from kernels.base import MAX_NONCES
from tests.kernels.header_vectors import (
    MAINNET,
    cpuminer_shares,
    hash_of,
    random_headers,
    regtest_block,
    solutions,
)

WINDOW = 1500  # nonces scanned on each side of a known solution


@pytest.mark.parametrize("vector", MAINNET, ids=lambda v: v.name)
def test_mainnet_block_found_at_network_target(scanner: Scanner, vector) -> None:
    header76 = vector.header[:76]
    start = vector.nonce - WINDOW
    result = scanner.scan(header76, vector.network_target, start, 2 * WINDOW)
    assert result == ScanResult((vector.nonce,), 2 * WINDOW)


@pytest.mark.parametrize("vector", MAINNET, ids=lambda v: v.name)
def test_hash_equal_to_target_is_accepted_one_above_is_not(scanner: Scanner, vector) -> None:
    header76 = vector.header[:76]
    value = int(vector.hash_display, 16)
    assert scanner.scan(header76, value, vector.nonce, 1).nonces == (vector.nonce,)
    assert scanner.scan(header76, value - 1, vector.nonce, 1).nonces == ()
    # The same top 32 bits, so the kernels' pre-filter passes it and only the full comparison rejects it.
    assert (value - 1) >> 224 == value >> 224
    start = vector.nonce - 40
    assert scanner.scan(header76, value - 1, start, 80) == ScanResult((), 80)


def test_regtest_block_agrees_with_brute_force(scanner: Scanner) -> None:
    vector = regtest_block()
    header76 = vector.header[:76]
    assert scanner.scan(header76, vector.network_target, vector.nonce, 1).nonces == (vector.nonce,)
    # Regtest's target accepts about half of all nonces: the first 64 of them are reported.
    expected = solutions(header76, vector.network_target, 0, 200)[:MAX_NONCES]
    result = scanner.scan(header76, vector.network_target, 0, 200)
    assert result.nonces == tuple(expected)
    assert MAX_NONCES <= result.hashes_done <= 200


def test_cpuminer_shares_agree_with_brute_force(scanner: Scanner) -> None:
    for vector, target in cpuminer_shares():
        header76 = vector.header[:76]
        start = max(0, vector.nonce - 300)
        count = min(600, 2**32 - start)
        result = scanner.scan(header76, target, start, count)
        assert vector.nonce in result.nonces, vector.name
        assert result == ScanResult(tuple(solutions(header76, target, start, count)), count), vector.name


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_headers_agree_with_brute_force(scanner: Scanner, seed: int) -> None:
    # A target that about one nonce in 64 meets; odd ranges exercise partial SIMD lanes.
    target = (1 << 250) + seed
    for i, header in enumerate(random_headers(3, seed)):
        start, count = 1000 * i + seed, 333 + 17 * i
        result = scanner.scan(header[:76], target, start, count)
        assert result == ScanResult(tuple(solutions(header[:76], target, start, count)), count)


@pytest.mark.parametrize("count", [1, 2, 7, 31, 32, 33, 64, 100])
def test_planted_solutions_at_both_ends_of_a_range(scanner: Scanner, count: int) -> None:
    header76 = random_headers(1, count)[0][:76]
    start = 5000 + count
    first, last = start, start + count - 1
    target = max(hash_of(header76, first), hash_of(header76, last))
    expected = solutions(header76, target, start, count)
    result = scanner.scan(header76, target, start, count)
    assert first in result.nonces and last in result.nonces
    assert result == ScanResult(tuple(expected[:MAX_NONCES]), result.hashes_done)
    # The nonces just outside the range are never reported, whatever their hash.
    outside = max(hash_of(header76, start - 1), hash_of(header76, start + count))
    wide = scanner.scan(header76, max(target, outside), start, count)
    assert all(start <= n < start + count for n in wide.nonces)


@pytest.mark.parametrize("nonce", [0, 2**32 - 1])
def test_extreme_nonces_alone(scanner: Scanner, nonce: int) -> None:
    header76 = MAINNET[0].header[:76]
    value = hash_of(header76, nonce)
    assert scanner.scan(header76, value, nonce, 1) == ScanResult((nonce,), 1)
    assert scanner.scan(header76, value - 1, nonce, 1) == ScanResult((), 1)
    assert scanner.scan(header76, (1 << 256) - 1, nonce, 1) == ScanResult((nonce,), 1)


def test_range_ending_at_the_last_nonce(scanner: Scanner) -> None:
    header76 = MAINNET[1].header[:76]
    start = 2**32 - 45
    target = hash_of(header76, 2**32 - 1)
    expected = solutions(header76, target, start, 45)
    assert 2**32 - 1 in expected
    assert scanner.scan(header76, target, start, 45) == ScanResult(tuple(expected), 45)


def test_at_most_64_nonces_the_lowest_first(scanner: Scanner) -> None:
    header76 = MAINNET[2].header[:76]
    result = scanner.scan(header76, (1 << 256) - 1, 1000, 500)
    assert result.nonces == tuple(range(1000, 1064))
    assert MAX_NONCES <= result.hashes_done <= 500


def test_zero_target_and_empty_range(scanner: Scanner) -> None:
    header76 = MAINNET[3].header[:76]
    assert scanner.scan(header76, 0, 0, 300) == ScanResult((), 300)
    assert scanner.scan(header76, (1 << 256) - 1, 77, 0) == ScanResult((), 0)


@pytest.mark.parametrize(
    ("header76", "target", "start", "count"),
    [
        (bytes(75), 1, 0, 1),
        (bytes(80), 1, 0, 1),
        (bytes(76), -1, 0, 1),
        (bytes(76), 1 << 256, 0, 1),
        (bytes(76), 1, -1, 1),
        (bytes(76), 1, 0, -1),
        (bytes(76), 1, 2**32 - 1, 2),
    ],
)
def test_bad_arguments_are_refused(scanner: Scanner, header76: bytes, target: int, start: int, count: int) -> None:
    with pytest.raises(ValueError):
        scanner.scan(header76, target, start, count)
