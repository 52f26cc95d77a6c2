"""Peer scoring: misbehaviour lowers a peer's score, good behaviour raises it a little, time heals both.

Pure: the caller passes ``now`` (any monotonic seconds; the same clock for every call). The score
decays exponentially toward 0 with ``ScoreConfig.half_life``. Each :meth:`PeerScores.record` returns a
:class:`Verdict`: disconnect at or below ``disconnect_threshold``, ban at or below ``ban_threshold``
for ``ban_seconds``, doubled (``repeat_ban_factor``) for each earlier ban still remembered.
The score is reset to 0 when a ban is handed out; the ban itself is the caller's to enforce
(:class:`p2pool.p2p.banlist.BanList`).
"""

from __future__ import annotations

import enum
import math
from collections import OrderedDict
from dataclasses import dataclass


class Offense(enum.Enum):
    """Things a peer can do wrong; each has a penalty in :class:`ScoreConfig`."""

    INVALID_SHARE = "invalid share"
    MALFORMED_MESSAGE = "malformed message"
    OVERSIZED_MESSAGE = "oversized message"
    FLOOD = "flood"
    UNANSWERED_REQUEST = "unanswered request"
    PROTOCOL_VIOLATION = "protocol violation"


@dataclass(frozen=True)
class ScoreConfig:
    """Penalties (negative), the reward and its cap, decay, thresholds and ban lengths (seconds)."""

    invalid_share: float = -50.0
    malformed_message: float = -25.0
    oversized_message: float = -50.0
    flood: float = -20.0
    unanswered_request: float = -5.0
    protocol_violation: float = -100.0
    good_reward: float = 1.0
    max_score: float = 20.0
    half_life: float = 600.0
    disconnect_threshold: float = -50.0
    ban_threshold: float = -100.0
    ban_seconds: float = 24 * 3600.0
    # Each earlier ban remembered (for ban_memory seconds after the last one) multiplies the next.
    repeat_ban_factor: float = 2.0
    max_ban_seconds: float = 30 * 24 * 3600.0
    ban_memory: float = 30 * 24 * 3600.0
    max_peers: int = 10_000

    def __post_init__(self) -> None:
        if any(self.penalty(offense) > 0 or not math.isfinite(self.penalty(offense)) for offense in Offense):
            raise ValueError("penalties must be finite and <= 0")
        if not 0 <= self.good_reward <= self.max_score:
            raise ValueError("need 0 <= good_reward <= max_score")
        if not self.ban_threshold <= self.disconnect_threshold < 0:
            raise ValueError("need ban_threshold <= disconnect_threshold < 0")
        if self.half_life <= 0 or self.ban_seconds <= 0 or self.max_ban_seconds < self.ban_seconds:
            raise ValueError("need half_life > 0 and 0 < ban_seconds <= max_ban_seconds")
        if self.repeat_ban_factor < 1 or self.ban_memory < 0 or self.max_peers < 1:
            raise ValueError("need repeat_ban_factor >= 1, ban_memory >= 0 and max_peers >= 1")

    def penalty(self, offense: Offense) -> float:
        """The score change for ``offense`` (a negative number or 0)."""
        value: float = getattr(self, offense.name.lower())
        return value


@dataclass(frozen=True)
class Verdict:
    """What the caller must do after an offense: disconnect, and ban for ``ban_seconds`` if > 0."""

    disconnect: bool
    ban_seconds: float
    reason: str


# A tracked peer whose decayed score is within this of 0 and who has no remembered ban is "neutral":
# forgetting it loses nothing worth keeping.
_NEUTRAL = 1.0
# How many of the least recently touched peers eviction looks at for a neutral one.
_EVICT_SCAN = 256


@dataclass
class _Entry:
    score: float
    at: float
    bans: int = 0
    last_ban: float = -math.inf


class PeerScores:
    """Scores of peers by ID; memory is bounded by ``config.max_peers``."""

    def __init__(self, config: ScoreConfig = ScoreConfig()) -> None:
        self.config = config
        self._peers: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._peers)

    def __contains__(self, peer: object) -> bool:
        return peer in self._peers

    def record(self, peer: str, offense: Offense, now: float) -> Verdict:
        """Apply the penalty for ``offense`` and say whether to disconnect or ban ``peer``."""
        entry = self._touch(peer, now)
        entry.score += self.config.penalty(offense)
        score = entry.score
        if score <= self.config.ban_threshold:
            seconds = self._ban(entry, now)
            return Verdict(True, seconds, f"{offense.value}: score {score:.0f} reached the ban threshold "
                                          f"{self.config.ban_threshold:.0f}, banned for {seconds:.0f} s")
        if score <= self.config.disconnect_threshold:
            return Verdict(True, 0.0, f"{offense.value}: score {score:.0f} reached the disconnect "
                                      f"threshold {self.config.disconnect_threshold:.0f}")
        return Verdict(False, 0.0, f"{offense.value}: score {score:.0f}")

    def good(self, peer: str, now: float) -> None:
        """Reward useful behaviour (a valid new share, an answered request), up to ``max_score``."""
        entry = self._touch(peer, now)
        if entry.score < self.config.max_score:
            entry.score = min(self.config.max_score, entry.score + self.config.good_reward)

    def score(self, peer: str, now: float) -> float:
        """The decayed score of ``peer`` at ``now``; 0 for a peer not tracked. Changes nothing."""
        entry = self._peers.get(peer)
        return 0.0 if entry is None else self._decayed(entry, now)

    def forget(self, peer: str) -> None:
        """Drop everything known about ``peer``, its remembered bans included."""
        self._peers.pop(peer, None)

    def _decayed(self, entry: _Entry, now: float) -> float:
        elapsed = max(0.0, now - entry.at)  # a clock that steps back decays nothing
        return entry.score * float(0.5 ** (elapsed / self.config.half_life))

    def _touch(self, peer: str, now: float) -> _Entry:
        entry = self._peers.get(peer)
        if entry is None:
            entry = self._peers[peer] = _Entry(0.0, now)
            if len(self._peers) > self.config.max_peers:
                self._evict(now, keep=peer)
        else:
            entry.score = self._decayed(entry, now)
            entry.at = max(entry.at, now)
            self._peers.move_to_end(peer)
        if entry.bans and now - entry.last_ban > self.config.ban_memory:
            entry.bans = 0
        return entry

    def _ban(self, entry: _Entry, now: float) -> float:
        config = self.config
        seconds = min(config.max_ban_seconds, config.ban_seconds * config.repeat_ban_factor ** entry.bans)
        entry.bans += 1
        entry.last_ban = now
        entry.score = 0.0
        return seconds

    def _is_neutral(self, entry: _Entry, now: float) -> bool:
        remembers_ban = entry.bans > 0 and now - entry.last_ban <= self.config.ban_memory
        return not remembers_ban and abs(self._decayed(entry, now)) < _NEUTRAL

    def _evict(self, now: float, keep: str) -> None:
        """Drop the least recently touched neutral peer, or failing that the least recently touched one."""
        victim: str | None = None
        for index, (peer, entry) in enumerate(self._peers.items()):
            if index >= _EVICT_SCAN:
                break
            if peer != keep and self._is_neutral(entry, now):
                victim = peer
                break
        if victim is None:
            victim = next(peer for peer in self._peers if peer != keep)
        del self._peers[victim]
