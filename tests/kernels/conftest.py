"""Scanner fixtures: every implementation runs the same tests; OpenCL skips where it cannot run."""

from __future__ import annotations

import pytest

from kernels import Scanner, available_kinds, make_scanner

SCANNER_KINDS = ["hashlib", "numba", "numba-1-thread", "opencl"]


def require(kind: str) -> None:
    """Skip the test with a reason when ``kind`` cannot run in this environment."""
    if kind not in available_kinds():
        reason = {
            "opencl": "no OpenCL: pyopencl is not installed or no OpenCL platform/device is present",
            "numba": "numba cannot be imported",
        }[kind]
        pytest.skip(reason)


def build(kind: str) -> Scanner:
    if kind == "numba-1-thread":
        require("numba")
        return make_scanner("numba", threads=1)
    if kind != "hashlib":
        require(kind)
    return make_scanner(kind)


@pytest.fixture(params=SCANNER_KINDS)
def scanner(request: pytest.FixtureRequest) -> Scanner:
    return build(request.param)


@pytest.fixture(params=["numba", "numba-1-thread", "opencl"])
def fast_scanner(request: pytest.FixtureRequest) -> Scanner:
    """The compiled implementations only, for ranges too long for the hashlib loop."""
    return build(request.param)
