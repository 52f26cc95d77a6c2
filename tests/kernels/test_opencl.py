"""OpenCL specifics: candidate overflow, several devices sharing one scan, adaptive launch sizes,
the GPU scan variants and their tuning."""

from __future__ import annotations

import pytest

from kernels import ScanResult
from kernels.base import MAX_NONCES
from tests.kernels.conftest import require, variant_devices
from tests.kernels.header_vectors import MAINNET


@pytest.fixture
def opencl():
    require("opencl")
    from kernels import opencl

    return opencl


def test_candidate_overflow_still_gives_the_lowest_64(opencl) -> None:
    """Every nonce is a candidate: the result blocks overflow and the scan re-runs them in halves."""
    scanner = opencl.OpenCLScanner()
    header76 = MAINNET[2].header[:76]
    start = 123_456
    result = scanner.scan(header76, (1 << 256) - 1, start, 300_000)
    assert result == ScanResult(tuple(range(start, start + MAX_NONCES)), 300_000)


def test_several_devices_share_one_scan(opencl) -> None:
    """Two workers pulling launches from one queue (the same device twice stands in for two)."""
    scanner = opencl.OpenCLScanner(device_indexes=[0, 0])
    assert len(scanner.device_names) == 2
    block = MAINNET[3]
    count = 40 * opencl.MIN_LAUNCH + 3
    for offset in (0, opencl.MIN_LAUNCH, count - 1):
        start = block.nonce - offset
        assert scanner.scan(block.header[:76], block.network_target, start, count) == ScanResult((block.nonce,), count)


def test_launch_size_adapts_within_bounds(opencl) -> None:
    device = opencl.OpenCLScanner().devices[0]
    before = device.launch
    device.adapt(before, 0.0)
    assert device.launch == min(2 * before, opencl.MAX_LAUNCH)
    device.adapt(device.launch, 10.0)
    assert device.launch == max(before, opencl.MIN_LAUNCH)
    device.adapt(1, 0.0)  # a short tail launch changes nothing
    assert device.launch == max(before, opencl.MIN_LAUNCH)


def test_every_nonce_of_a_launch_group_is_hashed(opencl) -> None:
    """A real block's nonce as the first and last nonce of consecutive launches of one group."""
    scanner = opencl.OpenCLScanner()
    block = MAINNET[3]
    launch = scanner.devices[0].launch
    assert opencl.DEPTH >= 3  # the three launches below go out as one group of this size
    for offset in (launch - 1, launch, 2 * launch - 1, 2 * launch):
        start = block.nonce - offset
        result = scanner.scan(block.header[:76], block.network_target, start, 3 * launch)
        assert result == ScanResult((block.nonce,), 3 * launch)


def test_tuning_times_every_variant_and_keeps_the_fastest(opencl) -> None:
    device = variant_devices()[0]
    assert set(device.variant_rates) == {opencl.PLAIN, *opencl.GPU_VARIANTS}
    assert all(rate > 0 for rate in device.variant_rates.values())
    assert device.variant == max(device.variant_rates, key=device.variant_rates.__getitem__)
    scanner = opencl.OpenCLScanner(devices=[device])
    assert scanner.device_variants == [device.variant]
    assert opencl.OpenCLScanner(variant="fma-adds", devices=[device]).device_variants == ["fma-adds"]


def _cpu_devices(opencl):
    """The engine's CPU devices; the test skips where there are none (a GPU-only machine)."""
    devices = [d for d in opencl.OpenCLScanner().devices if d.vec > 1]
    if not devices:
        pytest.skip("no CPU OpenCL device (PoCL) here")
    return devices


def test_cpu_devices_build_only_the_plain_scan(opencl) -> None:
    """Variants are for GPUs; a CPU device (PoCL here) runs the plain kernel without tuning."""
    for device in _cpu_devices(opencl):
        assert list(device.scan_kernels) == [opencl.PLAIN]
        assert device.variant == opencl.PLAIN and device.variant_rates == {}


def test_unknown_variant_is_refused(opencl) -> None:
    with pytest.raises(ValueError, match="no scan variant 'fast'"):
        opencl.OpenCLScanner(variant="fast", devices=variant_devices())


def test_variant_not_built_on_a_device_is_refused(opencl) -> None:
    with pytest.raises(ValueError, match="no scan variant 'fma-adds'"):
        opencl.OpenCLScanner(variant="fma-adds", devices=_cpu_devices(opencl))


def test_variant_candidate_overflow_rescans_with_the_same_variant(opencl) -> None:
    scanner = opencl.OpenCLScanner(variant="fma-adds-rotates", devices=variant_devices())
    header76 = MAINNET[2].header[:76]
    result = scanner.scan(header76, (1 << 256) - 1, 5, 70_000)
    assert result == ScanResult(tuple(range(5, 5 + MAX_NONCES)), 70_000)
