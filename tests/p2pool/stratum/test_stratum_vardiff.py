"""Vardiff with explicit times (the difficulty arithmetic it relies on is tested with the codec)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from p2pool.stratum.vardiff import Vardiff, VardiffConfig

# The steady-state rules on their own (the fast start of a new connection is tested separately).
CONFIG = VardiffConfig(min_difficulty=Fraction(1, 1000), max_difficulty=Fraction(1000), target_interval=10.0,
                       fast_start_retargets=0)


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


def submits_until_on_target(hashrate: float, start: Fraction, config: VardiffConfig) -> int:
    """A miner of ``hashrate`` hashes/s at ``start``: submits (at their expected times) until its
    difficulty is within a factor 2 of the one that gives one submit per target interval."""
    ideal = Fraction(hashrate * config.target_interval) / 2**32
    vardiff = Vardiff(config, start, now=0.0)
    now = 0.0
    for submit in range(1, 200):
        if ideal / 2 <= vardiff.difficulty <= ideal * 2:
            return submit - 1
        interval = float(vardiff.difficulty) * 2**32 / hashrate
        if interval > config.target_interval * config.fast_start_submits:  # slow: the ticks ease it first
            now += config.target_interval
            vardiff.tick(now)
            continue
        now += interval
        vardiff.on_submit(now)
    raise AssertionError(f"never on target: {float(vardiff.difficulty)} vs {float(ideal)}")


@pytest.mark.parametrize("hashrate", [1e6, 2e7, 1e10, 1e14, 4e14])  # a CPU thread ... an S21 XP
def test_a_new_connection_reaches_its_rate_within_a_few_submits(hashrate: float) -> None:
    config = VardiffConfig(min_difficulty=Fraction(1, 10**6), max_difficulty=Fraction(10**12), target_interval=10.0)
    assert submits_until_on_target(hashrate, Fraction(1), config) <= 8
    # Without the fast start an ASIC would take hundreds of submits (x4 per six) to get there.
    if hashrate >= 1e14:
        slow = VardiffConfig(min_difficulty=Fraction(1, 10**6), max_difficulty=Fraction(10**12), target_interval=10.0,
                             fast_start_retargets=0)
        assert submits_until_on_target(hashrate, Fraction(1), slow) > 40


def test_the_fast_start_ends_once_on_target() -> None:
    config = VardiffConfig(target_interval=10.0)
    vardiff = Vardiff(config, Fraction(1), now=0.0)
    assert vardiff.starting
    vardiff.on_submit(10.0)
    assert vardiff.on_submit(20.0) is None  # two submits in 20 s: on target
    assert not vardiff.starting
    assert [vardiff.on_submit(20.0 + 0.1 * i) for i in range(1, 7)][-1] == 4  # now only the x4 steps
