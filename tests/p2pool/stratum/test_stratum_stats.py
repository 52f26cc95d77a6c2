"""Share counters and the hash-rate estimate, with explicit times."""

from __future__ import annotations

from fractions import Fraction

from p2pool.stratum.server import StratumConfig
from p2pool.stratum.stats import ShareCounter


def test_hashrate_is_accepted_difficulty_times_2_32_over_the_window() -> None:
    counter = ShareCounter(started=0.0, window=100.0)
    counter.register("a", now=110.0)
    for t in range(10):
        counter.accept("a", Fraction(2), now=200.0 + t)
    counter.accept("b", Fraction(1), now=205.0)
    assert counter.hashrate(now=210.0) == 21 * 2**32 / 100
    (a, b) = counter.worker_stats({"a", "b"}, now=210.0)
    assert (a.name, a.accepted, b.name, b.accepted) == ("a", 10, "b", 1)
    assert a.hashrate == 20 * 2**32 / 100  # a authorized 100 s ago: a full window
    assert b.hashrate == 1 * 2**32 / 5  # b was first seen at its share, 5 s ago
    # shares older than the window stop counting
    assert counter.hashrate(now=400.0) == 0


def test_young_servers_divide_by_their_age_not_the_whole_window() -> None:
    counter = ShareCounter(started=0.0, window=300.0)
    counter.accept("a", Fraction(1), now=5.0)
    assert counter.hashrate(now=10.0) == 2**32 / 10


def test_rejects_are_counted_per_reason_and_per_worker() -> None:
    counter = ShareCounter(started=0.0)
    counter.reject("a", "duplicate", 1.0)
    counter.reject(None, "not-subscribed", 1.0)
    counter.reject("a", "duplicate", 2.0)
    assert dict(counter.rejected) == {"duplicate": 2, "not-subscribed": 1}
    assert counter.worker_stats({"a"}, 3.0)[0].rejected == 2


def test_config_initial_difficulty_below_the_minimum_is_honoured() -> None:
    session = StratumConfig(initial_difficulty=1e-7, min_difficulty=0.001).session_config()
    assert session.initial_difficulty == Fraction(1, 10**7) == session.vardiff.min_difficulty
    assert StratumConfig().session_config().vardiff.min_difficulty == Fraction(1, 1000)
