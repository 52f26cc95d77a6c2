"""The scanner interface every SHA-256d implementation offers, and the checks they share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

HEADER_SIZE = 80
NONCE_LIMIT = 1 << 32
MAX_NONCES = 64  # a scan reports at most this many nonces
TARGET_LIMIT = 1 << 256


@dataclass(frozen=True)
class ScanResult:
    """Nonces found (ascending, at most MAX_NONCES) and how many nonces were hashed.

    ``hashes_done`` equals the requested count unless the scan stopped early after finding
    MAX_NONCES solutions.
    """

    nonces: tuple[int, ...]
    hashes_done: int


class Scanner(Protocol):
    name: str

    def describe(self) -> str:
        """What the scan runs on, for operators' logs (threads, devices, kernel variants)."""
        ...

    def scan(self, header76: bytes, target: int, start_nonce: int, count: int) -> ScanResult:
        """Every nonce n in [start_nonce, start_nonce+count) (wrapping not needed; caller keeps
        start+count <= 2**32) whose sha256d(header76 + n.to_bytes(4,'little')), read as a
        little-endian int, is <= target. At most 64 nonces returned (ascending)."""
        ...


def check_scan_args(header76: bytes, target: int, start_nonce: int, count: int) -> None:
    """Raise ValueError for arguments no scanner accepts."""
    if len(header76) != HEADER_SIZE - 4:
        raise ValueError(f"header76 must be 76 bytes, got {len(header76)}")
    if not 0 <= target < TARGET_LIMIT:
        raise ValueError("target must be in [0, 2**256)")
    if count < 0 or start_nonce < 0 or start_nonce + count > NONCE_LIMIT:
        raise ValueError(f"nonce range [{start_nonce}, {start_nonce}+{count}) is outside [0, 2**32)")


def check_headers(headers: bytes, targets: Sequence[int]) -> int:
    """The number of headers in a verify batch, after checking it matches ``targets``."""
    if len(headers) % HEADER_SIZE:
        raise ValueError(f"headers must be a multiple of 80 bytes, got {len(headers)}")
    n = len(headers) // HEADER_SIZE
    if len(targets) != n:
        raise ValueError(f"{n} headers but {len(targets)} targets")
    return n


def target_bytes(target: int) -> bytes:
    """A target as 32 little-endian bytes, with a clear error when it does not fit."""
    try:
        return target.to_bytes(32, "little")
    except OverflowError:
        raise ValueError(f"target {target:#x} is not in [0, 2**256)") from None


def hash_value(header80: bytes) -> int:
    """sha256d of a full header read as a little-endian number."""
    return int.from_bytes(hashlib.sha256(hashlib.sha256(header80).digest()).digest(), "little")


def confirm(header76: bytes, target: int, candidates: Iterable[int]) -> list[int]:
    """The candidates whose full hash really is <= target (kernels pre-filter on the top 32 bits only)."""
    return [n for n in candidates if hash_value(header76 + int(n).to_bytes(4, "little")) <= target]


def top_word(target: int) -> int:
    """The target's top 32 bits: a hash whose top 32 bits exceed them cannot meet the target."""
    return target >> 224
