"""The Numba kernel's own contract: candidate buffer, early stop, lanes, and the scanner around it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.kernels.conftest import require
from tests.kernels.header_vectors import MAINNET, hash_of


@pytest.fixture(autouse=True)
def _numba() -> None:
    require("numba")


def test_kernel_stops_when_its_buffer_is_full() -> None:
    from kernels.numba_kernel import scan_kernel
    from kernels.sha256 import precompute

    header76 = MAINNET[0].header[:76]
    pre = np.array(precompute(header76), dtype=np.uint32)
    out = np.zeros(5, dtype=np.int64)
    found, examined = scan_kernel(pre, np.uint32(0xFFFFFFFF), 100, 1000, out)
    assert (found, examined) == (5, 5)
    assert out.tolist() == [100, 101, 102, 103, 104]
    found, examined = scan_kernel(pre, np.uint32(0), 100, 1000, out)
    assert (found, examined) == (0, 1000)


def test_kernel_prefilters_on_the_top_word_only() -> None:
    from kernels.numba_kernel import scan_kernel
    from kernels.sha256 import precompute

    header76 = MAINNET[1].header[:76]
    pre = np.array(precompute(header76), dtype=np.uint32)
    out = np.zeros(64, dtype=np.int64)
    top = np.uint32(0x10000000)
    found, _ = scan_kernel(pre, top, 0, 500, out)
    assert out[:found].tolist() == [n for n in range(500) if hash_of(header76, n) >> 224 <= top]


@pytest.mark.parametrize("slots", [1, 2, 64])
def test_scanner_continues_after_rejected_candidates(monkeypatch: pytest.MonkeyPatch, slots: int) -> None:
    """A candidate refused by the full comparison neither counts nor stops the scan."""
    import kernels.numba_cpu
    from kernels import make_scanner
    from tests.kernels.header_vectors import solutions

    monkeypatch.setattr(kernels.numba_cpu, "CANDIDATE_SLOTS", slots)
    header76 = MAINNET[2].header[:76]
    ranked = sorted(range(3000), key=lambda n: hash_of(header76, n))
    refused = ranked[4]  # same top word as the target, larger below it: a candidate that fails
    target = hash_of(header76, refused) - 1
    expected = solutions(header76, target, 0, 3000)
    assert refused not in expected and len(expected) == 4
    result = make_scanner("numba", threads=1).scan(header76, target, 0, 3000)
    assert result == kernels.ScanResult(tuple(expected), 3000)


def test_piece_layout_the_seam_tests_assume() -> None:
    from kernels import numba_cpu

    assert numba_cpu.PIECES_PER_THREAD == 4 and numba_cpu.MIN_PART == 1 << 14
