"""Scanner fixtures: every implementation runs the same tests; OpenCL skips where it cannot run."""

from __future__ import annotations

import functools

import pytest

from kernels import Scanner, available_kinds, make_scanner

# The OpenCL scan kernel's GPU variants (kernels.opencl.GPU_VARIANTS), pinned, on the CPU device
# here: the same cases check that each one hashes exactly like the plain kernel.
OPENCL_VARIANT_KINDS = ["opencl-fma-adds", "opencl-fma-round-adds-rotates", "opencl-fma-adds-rotates"]
SCANNER_KINDS = ["hashlib", "numba", "numba-1-thread", "opencl", *OPENCL_VARIANT_KINDS]


def require(kind: str) -> None:
    """Skip the test with a reason when ``kind`` cannot run in this environment."""
    if kind not in available_kinds():
        reason = {
            "opencl": "no OpenCL: pyopencl is not installed or no OpenCL platform/device is present",
            "numba": "numba cannot be imported",
        }[kind]
        pytest.skip(reason)


@functools.cache
def variant_devices():  # type: ignore[no-untyped-def]
    """The OpenCL devices with every GPU variant built (once per test session: building takes seconds)."""
    from kernels import opencl

    return opencl.build_devices(tuple(opencl.GPU_VARIANTS))


def build(kind: str) -> Scanner:
    if kind in OPENCL_VARIANT_KINDS:
        require("opencl")
        from kernels.opencl import OpenCLScanner

        return OpenCLScanner(variant=kind.removeprefix("opencl-"), devices=variant_devices())
    if kind == "numba-1-thread":
        require("numba")
        return make_scanner("numba", threads=1)
    if kind != "hashlib":
        require(kind)
    return make_scanner(kind)


@pytest.fixture(params=SCANNER_KINDS)
def scanner(request: pytest.FixtureRequest) -> Scanner:
    return build(request.param)


@pytest.fixture(params=["numba", "numba-1-thread", "opencl", *OPENCL_VARIANT_KINDS])
def fast_scanner(request: pytest.FixtureRequest) -> Scanner:
    """The compiled implementations only, for ranges too long for the hashlib loop."""
    return build(request.param)
