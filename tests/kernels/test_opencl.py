"""OpenCL specifics: candidate overflow, several devices sharing one scan, adaptive launch sizes."""

from __future__ import annotations

import pytest

from kernels import ScanResult
from kernels.base import MAX_NONCES
from tests.kernels.conftest import require
from tests.kernels.header_vectors import MAINNET


@pytest.fixture
def opencl():  # type: ignore[no-untyped-def]
    require("opencl")
    from kernels import opencl

    return opencl


def test_candidate_overflow_still_gives_the_lowest_64(opencl) -> None:  # type: ignore[no-untyped-def]
    """Every nonce is a candidate: the result blocks overflow and the scan re-runs them in halves."""
    scanner = opencl.OpenCLScanner()
    header76 = MAINNET[2].header[:76]
    start = 123_456
    result = scanner.scan(header76, (1 << 256) - 1, start, 300_000)
    assert result == ScanResult(tuple(range(start, start + MAX_NONCES)), 300_000)


def test_several_devices_share_one_scan(opencl) -> None:  # type: ignore[no-untyped-def]
    """Two workers pulling launches from one queue (the same device twice stands in for two)."""
    scanner = opencl.OpenCLScanner(device_indexes=[0, 0])
    assert len(scanner.device_names) == 2
    block = MAINNET[3]
    count = 40 * opencl.MIN_LAUNCH + 3
    for offset in (0, opencl.MIN_LAUNCH, count - 1):
        start = block.nonce - offset
        assert scanner.scan(block.header[:76], block.network_target, start, count) == ScanResult((block.nonce,), count)


def test_launch_size_adapts_within_bounds(opencl) -> None:  # type: ignore[no-untyped-def]
    device = opencl.OpenCLScanner().devices[0]
    before = device.launch
    device.adapt(before, 0.0)
    assert device.launch == min(2 * before, opencl.MAX_LAUNCH)
    device.adapt(device.launch, 10.0)
    assert device.launch == max(before, opencl.MIN_LAUNCH)
    device.adapt(1, 0.0)  # a short tail launch changes nothing
    assert device.launch == max(before, opencl.MIN_LAUNCH)


def test_every_nonce_of_a_launch_group_is_hashed(opencl) -> None:  # type: ignore[no-untyped-def]
    """A real block's nonce as the first and last nonce of consecutive launches of one group."""
    scanner = opencl.OpenCLScanner()
    block = MAINNET[3]
    launch = scanner.devices[0].launch
    assert opencl.DEPTH >= 3  # the three launches below go out as one group of this size
    for offset in (launch - 1, launch, 2 * launch - 1, 2 * launch):
        start = block.nonce - offset
        result = scanner.scan(block.header[:76], block.network_target, start, 3 * launch)
        assert result == ScanResult((block.nonce,), 3 * launch)
