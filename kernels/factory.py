"""Choosing an implementation by name: ``make_scanner``, ``verify_headers`` and ``available_kinds``.

The Numba and OpenCL modules are imported only when asked for, so ``import kernels`` stays cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from kernels.base import Scanner
from kernels.reference import HashlibScanner, verify_headers_hashlib

KINDS = ("hashlib", "numba", "opencl", "auto")


@functools.cache
def _numba_ok() -> bool:
    try:
        import kernels.numba_cpu  # noqa: F401
    except ImportError:
        return False
    return True


def available_kinds() -> list[str]:
    """The implementations that work in this process, the reference first."""
    kinds = ["hashlib"]
    if _numba_ok():
        kinds.append("numba")
    from kernels.opencl import opencl_devices

    if opencl_devices():
        kinds.append("opencl")
    return kinds


def _resolve(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kernel kind {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == "auto":
        return "numba" if _numba_ok() else "hashlib"
    return kind


def make_scanner(kind: str = "auto", threads: int | None = None) -> Scanner:
    """A scanner of the given kind; ``threads`` (None = all cores) applies to Numba only.

    "auto" is Numba, or hashlib when Numba cannot be imported. "opencl" raises RuntimeError
    when there is no pyopencl or no OpenCL device.
    """
    kind = _resolve(kind)
    if kind == "numba":
        from kernels.numba_cpu import NumbaScanner

        return NumbaScanner(threads)
    if kind == "opencl":
        from kernels.opencl import OpenCLScanner

        return OpenCLScanner()
    return HashlibScanner()


def verify_headers(headers: bytes, targets: Sequence[int], kind: str = "auto") -> list[bool]:
    """Batch check: ``headers`` is n*80 bytes; result[i] is sha256d(header_i) <= targets[i]."""
    kind = _resolve(kind)
    if kind == "numba":
        from kernels.numba_cpu import verify_headers_numba

        return verify_headers_numba(headers, targets)
    if kind == "opencl":
        from kernels.opencl import verify_headers_opencl

        return verify_headers_opencl(headers, targets)
    return verify_headers_hashlib(headers, targets)
