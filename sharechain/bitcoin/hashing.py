"""SHA-256d and the two byte orders Bitcoin hashes are written in."""

from __future__ import annotations

import hashlib


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256d(data: bytes) -> bytes:
    """Bitcoin's double SHA-256, in internal (little-endian number) byte order."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def hash_to_int(digest: bytes) -> int:
    """The number a hash stands for when compared with a target."""
    return int.from_bytes(digest, "little")


def hash_to_hex(digest: bytes) -> str:
    """Display order, as RPC and block explorers show hashes."""
    return digest[::-1].hex()


def hex_to_hash(text: str) -> bytes:
    """Inverse of :func:`hash_to_hex`: display-order hex to internal bytes."""
    raw = bytes.fromhex(text)
    if len(raw) != 32:
        raise ValueError(f"a hash is 32 bytes, got {len(raw)}")
    return raw[::-1]
