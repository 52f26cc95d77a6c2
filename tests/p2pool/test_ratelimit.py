"""RateLimiter: token buckets per peer, refill over time, no spending when refused, bounded memory."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pool.ratelimit import RateLimiter, TokenBucket


def test_burst_then_refused() -> None:
    limiter = RateLimiter(rate=10.0, burst=5.0)
    assert [limiter.allow("p", 0.0) for _ in range(7)] == [True] * 5 + [False] * 2


def test_refills_at_rate() -> None:
    limiter = RateLimiter(rate=10.0, burst=5.0)
    for _ in range(5):
        assert limiter.allow("p", 0.0)
    assert not limiter.allow("p", 0.05)  # half a token
    assert limiter.allow("p", 0.1)
    assert not limiter.allow("p", 0.1)
    assert limiter.tokens("p", 0.35) == pytest.approx(2.5)


def test_refill_is_capped_at_burst() -> None:
    limiter = RateLimiter(rate=10.0, burst=5.0)
    limiter.allow("p", 0.0)
    assert limiter.tokens("p", 1000.0) == 5.0
    assert [limiter.allow("p", 1000.0) for _ in range(6)] == [True] * 5 + [False]


def test_sustained_rate_is_enforced() -> None:
    limiter = RateLimiter(rate=10.0, burst=5.0)
    allowed = sum(limiter.allow("p", i * 0.01) for i in range(1000))  # 100 attempts/s for 10 s
    assert 104 <= allowed <= 106  # the burst of 5 plus 10/s


def test_cost_is_charged_and_refusal_spends_nothing() -> None:
    limiter = RateLimiter(rate=1.0, burst=10.0)
    assert limiter.allow("p", 0.0, cost=7.0)
    assert not limiter.allow("p", 0.0, cost=4.0)
    assert limiter.tokens("p", 0.0) == pytest.approx(3.0)
    assert limiter.allow("p", 0.0, cost=3.0)
    assert limiter.allow("p", 0.0, cost=0.0)
    assert not limiter.allow("p", 0.0)


def test_cost_above_burst_is_never_allowed() -> None:
    limiter = RateLimiter(rate=1.0, burst=10.0)
    assert not limiter.allow("p", 1e9, cost=10.5)
    assert limiter.allow("p", 1e9, cost=10.0)


def test_peers_have_separate_buckets() -> None:
    limiter = RateLimiter(rate=1.0, burst=2.0)
    assert limiter.allow("a", 0.0) and limiter.allow("a", 0.0)
    assert not limiter.allow("a", 0.0)
    assert limiter.allow("b", 0.0) and limiter.allow("b", 0.0)


def test_forget_gives_a_full_bucket() -> None:
    limiter = RateLimiter(rate=1.0, burst=2.0)
    limiter.allow("p", 0.0, cost=2.0)
    limiter.forget("p")
    limiter.forget("never-seen")
    assert "p" not in limiter and len(limiter) == 0
    assert limiter.allow("p", 0.0, cost=2.0)


def test_tokens_does_not_track_new_peers() -> None:
    limiter = RateLimiter(rate=1.0, burst=3.0)
    assert limiter.tokens("p", 0.0) == 3.0
    assert "p" not in limiter


def test_clock_stepping_back_refills_nothing() -> None:
    limiter = RateLimiter(rate=1.0, burst=2.0)
    limiter.allow("p", 100.0, cost=2.0)
    assert not limiter.allow("p", 50.0)
    assert not limiter.allow("p", 100.5)
    assert limiter.allow("p", 101.0)


def test_memory_is_bounded_dropping_the_least_recently_used() -> None:
    limiter = RateLimiter(rate=1.0, burst=1.0, max_peers=3)
    for peer in "abc":
        assert limiter.allow(peer, 0.0)
    assert not limiter.allow("a", 0.0)  # a is now the most recently used
    assert limiter.allow("d", 0.0)
    assert [p for p in "abcd" if p in limiter] == ["a", "c", "d"]
    assert not limiter.allow("a", 0.0)  # a's empty bucket survived
    for i in range(1000):
        limiter.allow(f"sybil-{i}", float(i))
    assert len(limiter) == 3


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1.0), (1.0, 0.0), (-1.0, 1.0), (float("inf"), 1.0),
                                             (1.0, float("nan"))])
def test_bad_parameters_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)


@pytest.mark.parametrize("cost", [-1.0, float("nan"), float("inf")])
def test_bad_cost_is_refused(cost: float) -> None:
    limiter = RateLimiter(1.0, 1.0)
    with pytest.raises(ValueError):
        limiter.allow("p", 0.0, cost)
    assert "p" not in limiter


def test_max_peers_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(1.0, 1.0, max_peers=0)


def test_reads_no_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_clock() -> float:
        raise AssertionError("the rate limiter read the clock")

    for name in ("time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"):
        monkeypatch.setattr(time, name, no_clock)
    limiter = RateLimiter(1.0, 1.0, max_peers=1)
    assert limiter.allow("a", 0.0) and limiter.allow("b", 0.0)
    assert limiter.tokens("b", 0.5) == 0.5


def test_module_is_pure() -> None:
    code = ("import sys, p2pool.ratelimit; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'trio', 'socket', 'libp2p', 'asyncio'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@settings(max_examples=300, deadline=None)
@given(st.floats(0.1, 1000), st.floats(0.5, 1000),
       st.lists(st.tuples(st.floats(-5, 1e4), st.sampled_from([0.0, 0.5, 1.0, 3.0])), max_size=60))
def test_a_bucket_alone_decides_as_a_limiters_bucket_does(rate: float, burst: float,
                                                          calls: list[tuple[float, float]]) -> None:
    bucket, limiter = TokenBucket(rate, burst), RateLimiter(rate, burst, max_peers=1)
    for now, cost in calls:
        assert bucket.allow(now, cost) == limiter.allow("", now, cost)


def test_a_bucket_alone_refuses_bad_parameters() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0.0, 1.0)
    with pytest.raises(ValueError):
        TokenBucket(1.0, 1.0).allow(0.0, float("nan"))
