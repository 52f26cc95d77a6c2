"""Picking implementations by name, and the fallbacks."""

from __future__ import annotations

import pytest

import kernels
import kernels.factory
import kernels.opencl
from kernels import available_kinds, make_scanner, verify_headers
from kernels.reference import HashlibScanner
from tests.kernels.conftest import require


def test_kinds_here() -> None:
    kinds = available_kinds()
    assert kinds[0] == "hashlib"
    assert set(kinds) <= {"hashlib", "numba", "opencl"}


def test_auto_is_numba_with_all_cores_by_default() -> None:
    require("numba")
    from kernels.numba_cpu import NumbaScanner

    scanner = make_scanner()
    assert isinstance(scanner, NumbaScanner) and scanner.name == "numba"
    assert scanner.threads >= 1
    assert make_scanner("numba", threads=1).threads == 1  # type: ignore[attr-defined]


def test_auto_falls_back_to_hashlib_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels.factory, "_numba_ok", lambda: False)
    assert isinstance(make_scanner("auto"), HashlibScanner)
    assert "numba" not in available_kinds()
    assert verify_headers(bytes(80), [(1 << 256) - 1]) == [True]


def test_unknown_kind_and_bad_thread_count() -> None:
    with pytest.raises(ValueError, match="unknown kernel kind"):
        make_scanner("cuda")
    with pytest.raises(ValueError, match="unknown kernel kind"):
        verify_headers(b"", [], "cuda")
    if "numba" in available_kinds():
        with pytest.raises(ValueError, match="threads"):
            make_scanner("numba", threads=0)


def test_opencl_absent_means_no_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pyopencl the module still imports and reports no device (the kind is then unavailable)."""
    monkeypatch.setattr(kernels.opencl, "cl", None)
    assert kernels.opencl.opencl_devices.__wrapped__() == ()


def test_package_exports_the_interface() -> None:
    assert set(kernels.__all__) == {"ScanResult", "Scanner", "available_kinds", "make_scanner", "verify_headers"}
    result = kernels.ScanResult((1, 2), 10)
    with pytest.raises(AttributeError):
        result.hashes_done = 3  # type: ignore[misc]


def test_opencl_without_devices_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels.opencl, "opencl_devices", lambda: ())
    with pytest.raises(RuntimeError, match="no OpenCL device"):
        kernels.opencl._build_engine.__wrapped__()


def test_scanners_describe_what_they_run_on() -> None:
    """The miner logs this at start: threads for CPU kernels, devices and kernel variant for OpenCL."""
    assert make_scanner("hashlib").describe() == "hashlib loop, 1 thread"
    if "numba" in available_kinds():
        assert make_scanner("numba", threads=1).describe() == "numba, 1 thread"
        assert make_scanner("numba", threads=2).describe() == "numba, 2 threads"
    if "opencl" in available_kinds():
        scanner = kernels.opencl.OpenCLScanner()
        assert scanner.describe().startswith("opencl: ")
        for name, variant in zip(scanner.device_names, scanner.device_variants, strict=True):
            assert f"{name}, kernel {variant}" in scanner.describe()
            assert variant in (kernels.opencl.PLAIN, *kernels.opencl.GPU_VARIANTS)
