"""Long scans (compiled scanners only): a real block's nonce at every seam of threads and launches.

A mainnet block's own target is so hard (about 2**-46 per nonce for block 100000) that within a
million nonces its published nonce is the only solution, so the expected answer is known exactly.
"""

from __future__ import annotations

import pytest
import trio

from kernels import Scanner, ScanResult, make_scanner
from kernels.parallel import split_range
from tests.kernels.conftest import build
from tests.kernels.header_vectors import MAINNET

COUNT = (1 << 20) + 7
BLOCK = MAINNET[3]  # block 100000
# Numba cuts a scan into 4 pieces per thread (kernels.numba_cpu.PIECES_PER_THREAD): some seams
# between pieces for 1 and for 2 threads.
SEAMS = [split_range(0, COUNT, parts, 1 << 14)[i][0] for parts, i in ((4, 1), (8, 3), (8, 4))]
# Where the block's nonce sits in the range: both ends, both sides of those seams, and around the
# first OpenCL launch boundaries (launches start at 65536 nonces).
OFFSETS = [0, COUNT - 1, *(s + d for s in SEAMS for d in (-1, 0)), 65535, 65536, 4 * 65536]


@pytest.mark.parametrize("offset", OFFSETS)
def test_block_nonce_found_at_every_seam(fast_scanner: Scanner, offset: int) -> None:
    start = BLOCK.nonce - offset
    result = fast_scanner.scan(BLOCK.header[:76], BLOCK.network_target, start, COUNT)
    assert result == ScanResult((BLOCK.nonce,), COUNT)


def test_block_nonce_just_outside_is_not_reported(fast_scanner: Scanner) -> None:
    header76, target = BLOCK.header[:76], BLOCK.network_target
    assert fast_scanner.scan(header76, target, BLOCK.nonce + 1, COUNT) == ScanResult((), COUNT)
    assert fast_scanner.scan(header76, target, BLOCK.nonce - COUNT, COUNT) == ScanResult((), COUNT)


def test_genesis_over_a_long_range(fast_scanner: Scanner) -> None:
    genesis = MAINNET[0]
    start = genesis.nonce - 3 * 65536 - 5
    result = fast_scanner.scan(genesis.header[:76], genesis.network_target, start, 4 * 65536 + 11)
    assert result == ScanResult((genesis.nonce,), 4 * 65536 + 11)


@pytest.mark.parametrize("kind", ["hashlib", "numba", "opencl"])
async def test_concurrent_scans_from_worker_threads(kind: str) -> None:
    """scan() runs under trio.to_thread.run_sync from several tasks at once, as the miner calls it."""
    scanner = build(kind)
    count = 3000 if kind == "hashlib" else COUNT
    cases = [(v, v.nonce - i * 97) for i, v in enumerate(MAINNET)]
    results: dict[str, ScanResult] = {}

    async def one(vector, start: int) -> None:
        results[vector.name] = await trio.to_thread.run_sync(
            scanner.scan, vector.header[:76], vector.network_target, start, count
        )

    async with trio.open_nursery() as nursery:
        for vector, start in cases:
            nursery.start_soon(one, vector, start)
    assert results == {v.name: ScanResult((v.nonce,), count) for v, _ in cases}


def test_numba_kernels_release_the_gil() -> None:
    from kernels.numba_kernel import scan_kernel, verify_kernel

    assert scan_kernel.targetoptions["nogil"] and verify_kernel.targetoptions["nogil"]
    assert make_scanner("numba").name == "numba"
