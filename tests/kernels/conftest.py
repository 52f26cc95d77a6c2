"""Scanner fixtures: every implementation runs the same tests; OpenCL skips where it cannot run."""

from __future__ import annotations

import functools

import pytest

from kernels import Scanner, available_kinds, make_scanner

# The OpenCL scan kernel as a GPU runs it (one nonce per work-item) in each variant: plain and
# kernels.opencl.GPU_VARIANTS, pinned, built on the OpenCL device here (PoCL's CPU device in CI), so
# the same cases check bit for bit the code an H100 would run.
OPENCL_VARIANT_KINDS = [
    "opencl-gpu-plain",
    "opencl-gpu-fma-adds",
    "opencl-gpu-fma-round-adds-rotates",
    "opencl-gpu-fma-adds-rotates",
]
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
def variant_devices():
    """The OpenCL devices in the GPU configuration with every variant built (once per test session:
    building takes seconds)."""
    from kernels import opencl

    return opencl.build_devices(tuple(opencl.GPU_VARIANTS), vec=1)


def build(kind: str) -> Scanner:
    if kind in OPENCL_VARIANT_KINDS:
        require("opencl")
        from kernels.opencl import OpenCLScanner

        return OpenCLScanner(variant=kind.removeprefix("opencl-gpu-"), devices=variant_devices())
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
