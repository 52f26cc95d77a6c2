"""Stratum difficulty as exact fractions: wire values, targets from the vector, quantization."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sharechain.bitcoin.stratum.difficulty import (
    difficulty_to_target,
    from_wire,
    quantize_down,
    target_to_difficulty,
    to_wire,
)
from sharechain.bitcoin.target import DIFF1_TARGET
from tests.p2pool.stratum.stratum_vector import VECTOR


def test_difficulty_targets_match_the_vector() -> None:
    targets = VECTOR["targets"]
    assert difficulty_to_target(Fraction(1)) == int(targets["difficulty_1"], 16) == DIFF1_TARGET
    assert difficulty_to_target(from_wire(0.001)) == int(targets["difficulty_0.001"], 16)
    assert difficulty_to_target(from_wire(0.002)) == int(targets["difficulty_0.002"], 16)
    assert target_to_difficulty(DIFF1_TARGET) == 1


def test_wire_values_round_trip_exactly() -> None:
    assert from_wire(0.001) == Fraction(1, 1000)
    assert from_wire(3) == 3 and from_wire("0.5") == Fraction(1, 2)
    assert to_wire(Fraction(1)) == 1 and isinstance(to_wire(Fraction(1)), int)
    assert to_wire(Fraction(1, 1000)) == 0.001
    for bad in (0, -1, float("nan"), float("inf"), True, None, [1], "abc"):
        with pytest.raises(ValueError):
            from_wire(bad)


@pytest.mark.parametrize("value", [Fraction(1, 3), Fraction(123456789, 1000), Fraction(10**20 + 7), Fraction(7, 10**9)])
def test_quantize_down_keeps_six_digits_and_never_rounds_up(value: Fraction) -> None:
    q = quantize_down(value)
    assert q <= value and (value - q) / value < Fraction(1, 10**5)
    assert from_wire(to_wire(q)) == q  # survives JSON unchanged


def test_quantized_share_cap_never_hides_a_share() -> None:
    for target in (DIFF1_TARGET // 3, (1 << 255) - 12345, 0xFFFF << 190):
        cap = quantize_down(target_to_difficulty(target))
        assert difficulty_to_target(cap) >= target

