"""Vardiff with explicit times, and the exact difficulty arithmetic it relies on."""

from __future__ import annotations

from fractions import Fraction

import pytest
from stratum_vector import VECTOR

from p2pool.stratum.difficulty import (
    difficulty_to_target,
    from_wire,
    quantize_down,
    target_to_difficulty,
    to_wire,
)
from p2pool.stratum.vardiff import Vardiff, VardiffConfig
from sharechain.bitcoin.target import DIFF1_TARGET

CONFIG = VardiffConfig(min_difficulty=Fraction(1, 1000), max_difficulty=Fraction(1000), target_interval=10.0)


def test_fast_submits_raise_difficulty_by_at_most_the_step() -> None:
    vardiff = Vardiff(CONFIG, Fraction(1), now=0.0)
    changes = [vardiff.on_submit(0.1 * i) for i in range(1, 7)]
    assert changes[:5] == [None] * 5
    assert changes[5] == Fraction(4)  # 6 submits in 0.6 s wanted 6 in 60 s: x100, clamped to x4


def test_steady_submits_leave_difficulty_alone() -> None:
    vardiff = Vardiff(CONFIG, Fraction(2), now=0.0)
    assert [vardiff.on_submit(10.0 * i) for i in range(1, 13)] == [None] * 12
    assert vardiff.difficulty == 2


def test_moderately_fast_submits_scale_proportionally() -> None:
    vardiff = Vardiff(CONFIG, Fraction(1), now=0.0)
    results = [vardiff.on_submit(5.0 * i) for i in range(1, 7)]  # twice the wanted rate
    assert results[-1] == Fraction(2)


def test_silence_lowers_difficulty_on_ticks() -> None:
    vardiff = Vardiff(CONFIG, Fraction(1), now=0.0)
    assert vardiff.tick(59.0) is None
    assert vardiff.tick(60.0) == Fraction(1, 4)
    assert vardiff.tick(120.0) == Fraction(1, 16)


def test_limits_clamp_both_ways() -> None:
    vardiff = Vardiff(CONFIG, Fraction(999), now=0.0)
    assert [vardiff.on_submit(0.01 * i) for i in range(1, 7)][-1] == Fraction(1000)
    assert vardiff.on_submit(1.0) is None
    low = Vardiff(CONFIG, Fraction(1, 500), now=0.0)
    assert low.tick(60.0) == Fraction(1, 1000)
    assert low.tick(120.0) is None
    assert Vardiff(CONFIG, Fraction(10**9), now=0.0).difficulty == 1000


def test_suggest_restarts_within_limits_and_cap_holds_it_down() -> None:
    vardiff = Vardiff(CONFIG, Fraction(1), now=0.0)
    assert vardiff.suggest(Fraction(1, 10**6), now=5.0) == Fraction(1, 1000)
    assert vardiff.suggest(Fraction(64), now=5.0) == 64
    vardiff.cap(Fraction(8))
    assert vardiff.difficulty == 8


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError):
        VardiffConfig(min_difficulty=Fraction(2), max_difficulty=Fraction(1))
    with pytest.raises(ValueError):
        VardiffConfig(target_interval=0)


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
