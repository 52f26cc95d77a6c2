"""Per-peer token buckets: each peer may spend ``burst`` at once and ``rate`` per second after that.

Pure: the caller passes ``now`` (any monotonic seconds; the same clock for every call). A peer seen
for the first time starts with a full bucket. Memory is bounded by ``max_peers``: past it the
bucket touched least recently is dropped (a peer idle that long has usually refilled, so little is lost).
"""

from __future__ import annotations

import math
from collections import OrderedDict


def _check(rate: float, burst: float) -> None:
    if not (math.isfinite(rate) and rate > 0 and math.isfinite(burst) and burst > 0):
        raise ValueError("rate and burst must be finite and positive")


def _check_cost(cost: float) -> None:
    if not (math.isfinite(cost) and cost >= 0):
        raise ValueError(f"cost must be finite and >= 0, got {cost!r}")


class TokenBucket:
    """One bucket on its own, as :class:`RateLimiter` keeps one per peer (a Stratum connection's submits:
    ten thousand connections, each with its own, at about 60 bytes apiece instead of a limiter's 570)."""

    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        _check(rate, burst)
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at: float | None = None  # full until first used

    def allow(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if the bucket holds that many; False (nothing spent) if not."""
        _check_cost(cost)
        self._tokens = self.available(now)
        # A clock that steps back refills nothing, and does not move the bucket's time back.
        self._at = now if self._at is None else max(self._at, now)
        if self._tokens < cost:
            return False
        self._tokens -= cost
        return True

    def available(self, now: float) -> float:
        """How many tokens could be spent at ``now``. Changes nothing."""
        if self._at is None:
            return self._tokens
        return min(self.burst, self._tokens + max(0.0, now - self._at) * self.rate)


class RateLimiter:
    """Token bucket per peer ID."""

    def __init__(self, rate: float, burst: float, *, max_peers: int = 10_000) -> None:
        _check(rate, burst)
        if max_peers < 1:
            raise ValueError("max_peers must be at least 1")
        self.rate = rate
        self.burst = burst
        self.max_peers = max_peers
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, peer: object) -> bool:
        return peer in self._buckets

    def allow(self, peer: str, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens of ``peer``'s bucket if it holds that many; False (nothing spent) if not."""
        _check_cost(cost)
        bucket = self._buckets.get(peer)
        if bucket is None:
            bucket = self._buckets[peer] = TokenBucket(self.rate, self.burst)
            if len(self._buckets) > self.max_peers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(peer)
        return bucket.allow(now, cost)

    def tokens(self, peer: str, now: float) -> float:
        """How many tokens ``peer`` could spend at ``now`` (``burst`` for a peer not tracked). Changes nothing."""
        bucket = self._buckets.get(peer)
        return self.burst if bucket is None else bucket.available(now)

    def forget(self, peer: str) -> None:
        """Drop ``peer``'s bucket (on disconnect)."""
        self._buckets.pop(peer, None)
