"""How far this node's clock is from its peers': the median, over peers, of each peer's median of
(our clock when its fresh share arrived - the share's timestamp).

Pure: it is handed times, it reads no clock. A share's timestamp is its finder's clock when it was
mined (or just after the chain's median time, which only ever raises it), so a peer whose clock is
an hour ahead shows as our clock an hour behind: ``skew`` is our clock minus our peers', positive
when ours is ahead. With a single peer the two ends see the same difference with opposite signs;
with several the median says which clock is the odd one out. Past ``threshold`` seconds either way
shares start to fail the consensus time rule (``timestamp-in-future``, see ``docs/consensus.md``),
so crossing it is reported once (a :class:`SkewChanged`) for the adapter to log.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

SAMPLES_PER_PEER = 9  # recent shares per peer: one delayed share does not move the estimate
MAX_PEERS = 64  # peers tracked (the oldest forgotten first): bounded whatever connects
# A share older than this when it arrives is history (a relay of old shares), not a clock reading.
MAX_SAMPLE = 6 * 3600


@dataclass(frozen=True)
class SkewChanged:
    """The estimate crossed the threshold: ``beyond`` it now (our clock is off) or back within it."""

    skew: float
    beyond: bool
    peers: int


class ClockSkew:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._samples: dict[str, deque[float]] = {}
        self._beyond = False

    def observe(self, peer: str, share_timestamp: int, now: float) -> SkewChanged | None:
        """A fresh share from ``peer`` (its finder) stamped ``share_timestamp`` arrived at our ``now``."""
        sample = now - share_timestamp
        if abs(sample) > MAX_SAMPLE:
            return None
        samples = self._samples.get(peer)
        if samples is None:
            if len(self._samples) >= MAX_PEERS:
                del self._samples[next(iter(self._samples))]
            samples = self._samples[peer] = deque(maxlen=SAMPLES_PER_PEER)
        samples.append(sample)
        return self._check()

    def forget(self, peer: str) -> SkewChanged | None:
        self._samples.pop(peer, None)
        return self._check()

    @property
    def peers(self) -> int:
        return len(self._samples)

    def skew(self) -> float | None:
        """Our clock minus our peers' (seconds; None before any peer's share arrived)."""
        if not self._samples:
            return None
        return float(statistics.median(statistics.median(s) for s in self._samples.values()))

    def _check(self) -> SkewChanged | None:
        skew = self.skew()
        beyond = skew is not None and abs(skew) > self.threshold
        if beyond == self._beyond:
            return None
        self._beyond = beyond
        return SkewChanged(skew or 0.0, beyond, self.peers)
