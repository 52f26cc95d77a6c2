"""Per-peer token buckets: each peer may spend ``burst`` at once and ``rate`` per second after that.

Pure: the caller passes ``now`` (any monotonic seconds; the same clock for every call). A peer seen
for the first time starts with a full bucket. Memory is bounded by ``max_peers``: past it the
bucket touched least recently is dropped (a peer idle that long has usually refilled, so little is lost).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token bucket per peer ID."""

    def __init__(self, rate: float, burst: float, *, max_peers: int = 10_000) -> None:
        if not (math.isfinite(rate) and rate > 0 and math.isfinite(burst) and burst > 0):
            raise ValueError("rate and burst must be finite and positive")
        if max_peers < 1:
            raise ValueError("max_peers must be at least 1")
        self.rate = rate
        self.burst = burst
        self.max_peers = max_peers
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, peer: object) -> bool:
        return peer in self._buckets

    def allow(self, peer: str, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens of ``peer``'s bucket if it holds that many; False (nothing spent) if not."""
        if not (math.isfinite(cost) and cost >= 0):
            raise ValueError(f"cost must be finite and >= 0, got {cost!r}")
        bucket = self._refilled(peer, now)
        if bucket.tokens < cost:
            return False
        bucket.tokens -= cost
        return True

    def tokens(self, peer: str, now: float) -> float:
        """How many tokens ``peer`` could spend at ``now`` (``burst`` for a peer not tracked). Changes nothing."""
        bucket = self._buckets.get(peer)
        if bucket is None:
            return self.burst
        return min(self.burst, bucket.tokens + max(0.0, now - bucket.at) * self.rate)

    def forget(self, peer: str) -> None:
        """Drop ``peer``'s bucket (on disconnect)."""
        self._buckets.pop(peer, None)

    def _refilled(self, peer: str, now: float) -> _Bucket:
        bucket = self._buckets.get(peer)
        if bucket is None:
            bucket = self._buckets[peer] = _Bucket(self.burst, now)
            if len(self._buckets) > self.max_peers:
                self._buckets.popitem(last=False)
            return bucket
        # A clock that steps back refills nothing, and does not move the bucket's time back.
        bucket.tokens = min(self.burst, bucket.tokens + max(0.0, now - bucket.at) * self.rate)
        bucket.at = max(bucket.at, now)
        self._buckets.move_to_end(peer)
        return bucket
