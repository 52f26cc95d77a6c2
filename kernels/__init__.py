"""SHA-256d for mining: nonce scans and batch header checks, by hashlib, Numba (CPU) or OpenCL.

All implementations answer the same ``Scanner.scan`` and ``verify_headers`` questions exactly;
pick one with ``make_scanner(kind)`` ("hashlib", "numba", "opencl" or "auto").
"""

from kernels.base import Scanner, ScanResult
from kernels.factory import available_kinds, make_scanner, verify_headers

__all__ = ["ScanResult", "Scanner", "available_kinds", "make_scanner", "verify_headers"]
