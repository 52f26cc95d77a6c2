"""The hashlib reference: obviously correct, slow (one Python loop step per nonce)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from kernels.base import (
    HEADER_SIZE,
    MAX_NONCES,
    ScanResult,
    check_headers,
    check_scan_args,
    hash_value,
    target_bytes,
)


class HashlibScanner:
    """Scans with hashlib, reusing the hash object fed the first 76 bytes for every nonce."""

    name = "hashlib"

    def describe(self) -> str:
        return "hashlib loop, 1 thread"

    def scan(self, header76: bytes, target: int, start_nonce: int, count: int) -> ScanResult:
        check_scan_args(header76, target, start_nonce, count)
        prefix = hashlib.sha256(header76)
        sha256 = hashlib.sha256
        found: list[int] = []
        for nonce in range(start_nonce, start_nonce + count):
            inner = prefix.copy()
            inner.update(nonce.to_bytes(4, "little"))
            if int.from_bytes(sha256(inner.digest()).digest(), "little") <= target:
                found.append(nonce)
                if len(found) == MAX_NONCES:
                    return ScanResult(tuple(found), nonce - start_nonce + 1)
        return ScanResult(tuple(found), count)


def verify_headers_hashlib(headers: bytes, targets: Sequence[int]) -> list[bool]:
    """``result[i]`` is sha256d(header i) <= targets[i]."""
    n = check_headers(headers, targets)
    for target in targets:
        target_bytes(target)  # the same range check as the batch kernels
    return [hash_value(headers[i * HEADER_SIZE : (i + 1) * HEADER_SIZE]) <= targets[i] for i in range(n)]
