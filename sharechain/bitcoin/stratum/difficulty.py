"""Stratum difficulty as exact fractions: wire values, targets and quantization.

A difficulty on the wire is a JSON number; it is held here as the exact decimal it was written as
(``Fraction("0.001")``, never the binary float), so the server and a miner agree on the target:
``target = DIFF1_TARGET / difficulty``, rounded down.
"""

from __future__ import annotations

import math
from fractions import Fraction

from sharechain.bitcoin.target import DIFF1_TARGET, MAX_TARGET

_SIGNIFICANT_DIGITS = 6


def from_wire(value: object) -> Fraction:
    """A difficulty parsed from JSON (int, float or numeric string); ValueError unless finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"difficulty must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("difficulty must be finite")
    try:
        result = Fraction(repr(value) if isinstance(value, float) else value)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"difficulty {value!r} is not a number") from None
    if result <= 0:
        raise ValueError(f"difficulty must be positive, got {value!r}")
    return result


def to_wire(difficulty: Fraction) -> int | float:
    """The JSON number for a quantized difficulty (an int when whole, so ``1`` is not sent as ``1.0``)."""
    if difficulty.denominator == 1:
        return difficulty.numerator
    return float(difficulty)


def quantize_down(difficulty: Fraction) -> Fraction:
    """The largest value <= ``difficulty`` with at most 6 significant decimal digits.

    Such values survive the trip through a JSON float unchanged, so the target a miner derives from
    the number it receives is the one the server checks against.
    """
    if difficulty <= 0:
        raise ValueError("difficulty must be positive")
    exponent = _decimal_exponent(difficulty)
    shift = _SIGNIFICANT_DIGITS - 1 - exponent
    if shift >= 0:
        scale = 10**shift
        return Fraction(math.floor(difficulty * scale), scale)
    scale = 10 ** (-shift)
    return Fraction(math.floor(difficulty / scale) * scale)


def _decimal_exponent(value: Fraction) -> int:
    """floor(log10(value)) computed exactly."""
    exponent = len(str(value.numerator)) - len(str(value.denominator))
    while Fraction(10) ** exponent > value:
        exponent -= 1
    while Fraction(10) ** (exponent + 1) <= value:
        exponent += 1
    return exponent


def difficulty_to_target(difficulty: Fraction) -> int:
    """``DIFF1_TARGET / difficulty`` rounded down, capped at the largest 256-bit number."""
    if difficulty <= 0:
        raise ValueError("difficulty must be positive")
    return min(MAX_TARGET, DIFF1_TARGET * difficulty.denominator // difficulty.numerator)


def target_to_difficulty(target: int) -> Fraction:
    """The exact difficulty whose target is ``target`` (DIFF1_TARGET / target)."""
    if target <= 0:
        raise ValueError("target must be positive")
    return Fraction(DIFF1_TARGET, target)


def hash_difficulty(hash_value: int) -> float:
    """How hard a hash (as a number) was, for logs: DIFF1_TARGET / hash."""
    return DIFF1_TARGET / max(hash_value, 1)
