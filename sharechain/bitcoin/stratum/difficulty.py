"""Stratum difficulty as exact fractions: wire values, targets and quantization.

A difficulty on the wire is a JSON number; it is held here as the exact decimal it was written as
(``Fraction("0.001")``, never the binary float), so the server and a miner agree on the target:
``target = DIFF1_TARGET / difficulty``, rounded down.

Numbers come from strangers, so :func:`from_wire` bounds their size before any arithmetic: a string
of at most :data:`MAX_WIRE_CHARS` characters with an exponent of at most three digits, and a value
within [:data:`MIN_WIRE`, :data:`MAX_WIRE`] (``"1e-10000000"`` would otherwise build a ten-million
digit power of ten).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Final

from sharechain.bitcoin.target import DIFF1_TARGET, MAX_TARGET

_SIGNIFICANT_DIGITS = 6
MAX_WIRE_CHARS: Final = 40
MIN_WIRE: Final = Fraction(1, 10**30)
MAX_WIRE: Final = Fraction(10**30)
_DECIMAL = re.compile(r"[+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?", re.ASCII)


def from_wire(value: object) -> Fraction:
    """A difficulty parsed from JSON (int, float or decimal string); ValueError unless in range.

    The work done is bounded whatever the input: strings longer than MAX_WIRE_CHARS or with an
    exponent of more than three digits, and integers beyond MAX_WIRE, are refused before conversion.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"difficulty must be a number, got {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("difficulty must be finite")
        result = Fraction(repr(value))  # a float's repr is short: exact and cheap
    elif isinstance(value, int):
        if value.bit_length() > MAX_WIRE.numerator.bit_length():
            raise ValueError(f"difficulty out of range (at most {float(MAX_WIRE):g})")
        result = Fraction(value)
    else:
        text = value.strip()
        if len(text) > MAX_WIRE_CHARS or not _DECIMAL.fullmatch(text):
            raise ValueError(f"difficulty {_shown(value)} is not a decimal number of at most {MAX_WIRE_CHARS}"
                             " characters with an exponent of at most 3 digits")
        result = Fraction(text)
    if result <= 0:
        raise ValueError(f"difficulty must be positive, got {_shown(value)}")
    if not MIN_WIRE <= result <= MAX_WIRE:
        raise ValueError(f"difficulty {_shown(value)} out of range [{float(MIN_WIRE):g}, {float(MAX_WIRE):g}]")
    return result


def _shown(value: object) -> str:
    """A stranger's value for an error message, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
