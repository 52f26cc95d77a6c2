"""Targets, compact ``nBits`` and work: integer arithmetic only."""

from __future__ import annotations

MAX_TARGET = (1 << 256) - 1
# Pool difficulty 1, as every Stratum miner counts it (bdiff): 0xFFFF * 2**208.
DIFF1_TARGET = 0xFFFF << 208


def bits_to_target(bits: int) -> int:
    """Decode compact ``nBits``; negative or overflowing encodings are refused."""
    exponent = bits >> 24
    mantissa = bits & 0x007FFFFF
    if bits & 0x00800000 and mantissa:
        raise ValueError(f"negative compact target {bits:#010x}")
    if exponent <= 3:
        target = mantissa >> (8 * (3 - exponent))
    else:
        target = mantissa << (8 * (exponent - 3))
    if target > MAX_TARGET:
        raise ValueError(f"compact target {bits:#010x} overflows 256 bits")
    return target


def target_to_bits(target: int) -> int:
    """Encode a target as compact ``nBits`` (rounding down, as Bitcoin Core does)."""
    if target <= 0:
        return 0
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        mantissa = target << (8 * (3 - size))
    else:
        mantissa = target >> (8 * (size - 3))
    if mantissa & 0x00800000:
        mantissa >>= 8
        size += 1
    return (size << 24) | mantissa


def work_from_target(target: int) -> int:
    """Expected hashes to meet ``target``: 2**256 // (target + 1), as Bitcoin Core counts chain work."""
    return (1 << 256) // (target + 1)


def target_from_work(work: int) -> int:
    """The target whose expected work is ``work`` (inverse of :func:`work_from_target`)."""
    if work <= 1:
        return MAX_TARGET
    return min(MAX_TARGET, (1 << 256) // work - 1)
