"""Share counters and the hash-rate estimate, with explicit times."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from p2pool.stratum.server import StratumConfig
from p2pool.stratum.stats import HashrateWindow, ShareCounter


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


def test_a_window_keeps_buckets_not_every_submit() -> None:
    counter = ShareCounter(started=0.0, window=300.0)
    counter.register("a", now=0.0)
    for i in range(30_000):  # 100 submits a second for 300 s
        counter.accept("a", Fraction(1, 10**9), now=i / 100)
    window = counter._workers["a"][2]
    assert len(window._units) <= 11
    # exact integer work: 30,000 submits of 1e-9 over the 300 s window
    assert counter.hashrate(now=300.0) == counter.worker_stats({"a"}, 300.0)[0].hashrate
    assert abs(counter.hashrate(now=300.0) / (30_000 * 2**32 / 10**9 / 300) - 1) < 1e-9


class _ListedBuckets:
    """The window as it was kept before (a list of [bucket number, units]): the reference for the property."""

    def __init__(self, window: float, started: float, buckets: int = 10) -> None:
        self.window, self.started, self.width = window, started, window / buckets
        self.buckets: list[list[int]] = []
        self.total = 0

    def add_units(self, now: float, units: int) -> None:
        number = int(now // self.width)
        if self.buckets and self.buckets[-1][0] == number:
            self.buckets[-1][1] += units
        else:
            self.buckets.append([number, units])
            self.expire(now)
        self.total += units

    def rate(self, now: float) -> float:
        self.expire(now)
        return self.total / 2**32 / max(1.0, min(self.window, now - self.started))

    def expire(self, now: float) -> None:
        while self.buckets and (self.buckets[0][0] + 1) * self.width <= now - self.window:
            self.total -= self.buckets.pop(0)[1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 400), st.integers(0, 2**80), st.booleans()), max_size=80))
def test_a_window_of_listed_units_rates_as_the_listed_buckets_did(steps: list[tuple[float, int, bool]]) -> None:
    window, reference, now = HashrateWindow(300.0, 0.0), _ListedBuckets(300.0, 0.0), 0.0
    for gap, units, ask in steps:  # time moving on (by up to more than a window at once)
        now += gap
        window.add_units(now, units)
        reference.add_units(now, units)
        if ask:
            assert window.rate(now) == reference.rate(now)
    assert window.rate(now + 1.0) == reference.rate(now + 1.0)
    assert len(window._units) <= 11
