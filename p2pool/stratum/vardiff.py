"""Per-connection variable difficulty: steer each miner toward one submit every ``target_interval`` seconds.

Pure: the caller passes ``now`` (trio.current_time() in the server, explicit numbers in tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sharechain.bitcoin.stratum.difficulty import quantize_down


@dataclass(frozen=True)
class VardiffConfig:
    """Limits and pacing; difficulties are exact fractions."""

    min_difficulty: Fraction = Fraction(1, 1000)
    max_difficulty: Fraction = Fraction(10**12)
    target_interval: float = 10.0
    # Retarget once this many submits arrived, or once this many target intervals passed.
    retarget_submits: int = 6
    retarget_intervals: float = 6.0
    # The most difficulty may move in one retarget (a factor), and the dead band left alone.
    max_step: int = 4
    tolerance: float = 0.4
    # A new connection's difficulty may be far from right (an ASIC at the starting difficulty would
    # submit thousands of times a second): its first retargets come after ``fast_start_submits``
    # submits (or as many target intervals without one) and may move by up to ``fast_start_max_step``,
    # until a retarget finds the rate within the tolerance or ``fast_start_retargets`` have been made.
    fast_start_retargets: int = 4
    fast_start_submits: int = 2
    fast_start_max_step: int = 4096

    def __post_init__(self) -> None:
        if not 0 < self.min_difficulty <= self.max_difficulty:
            raise ValueError("need 0 < min_difficulty <= max_difficulty")
        if self.target_interval <= 0 or self.retarget_submits < 1 or self.max_step < 1:
            raise ValueError("target_interval, retarget_submits and max_step must be positive")
        if self.fast_start_retargets < 0 or self.fast_start_submits < 1 or self.fast_start_max_step < 1:
            raise ValueError("fast_start_submits and fast_start_max_step must be positive")

    def clamp(self, difficulty: Fraction) -> Fraction:
        return min(self.max_difficulty, max(self.min_difficulty, difficulty))


class Vardiff:
    """Counts accepted submits since the last retarget and proposes a new difficulty when due."""

    def __init__(self, config: VardiffConfig, difficulty: Fraction, now: float) -> None:
        self.config = config
        self.difficulty = quantize_down(config.clamp(difficulty))
        self._since = now
        self._submits = 0
        self._fast_left = config.fast_start_retargets

    def suggest(self, difficulty: Fraction, now: float) -> Fraction:
        """Start over from a miner-suggested difficulty (clamped to the limits), fast start again."""
        self.difficulty = quantize_down(self.config.clamp(difficulty))
        self._since, self._submits = now, 0
        self._fast_left = self.config.fast_start_retargets
        return self.difficulty

    @property
    def starting(self) -> bool:
        """Still in the fast start: the difficulty may be far from this miner's."""
        return self._fast_left > 0

    def cap(self, difficulty: Fraction) -> None:
        """Never stay above what the current job allows (the share difficulty cap)."""
        if difficulty is not self.difficulty and difficulty < self.difficulty:
            self.difficulty = difficulty

    def on_submit(self, now: float) -> Fraction | None:
        """Record an accepted submit; the new difficulty if this triggered a retarget, else None."""
        self._submits += 1
        wanted = self.config.fast_start_submits if self.starting else self.config.retarget_submits
        if self._submits >= wanted:
            return self._retarget(now)
        return self.tick(now)

    def tick(self, now: float) -> Fraction | None:
        """Retarget on time alone (a miner that stopped submitting gets an easier difficulty)."""
        intervals = self.config.fast_start_submits if self.starting else self.config.retarget_intervals
        if now - self._since >= intervals * self.config.target_interval:
            return self._retarget(now)
        return None

    def _retarget(self, now: float) -> Fraction | None:
        elapsed = max(now - self._since, 1e-3)
        submits = self._submits
        self._since, self._submits = now, 0
        cfg = self.config
        step = cfg.fast_start_max_step if self.starting else cfg.max_step
        if self.starting:
            self._fast_left -= 1
        # Observed submits per interval divided by the wanted one (1): the factor to scale difficulty by. On
        # target (most retargets of a steady miner) it is told apart in floats; a new difficulty is exact.
        if 1 - cfg.tolerance <= submits * cfg.target_interval / elapsed <= 1 + cfg.tolerance:
            self._fast_left = 0  # on target: from now on only the usual, gentle steps
            return None
        ratio = Fraction(submits) * Fraction(cfg.target_interval) / Fraction(elapsed)
        ratio = min(Fraction(step), max(Fraction(1, step), ratio))
        proposed = quantize_down(cfg.clamp(self.difficulty * ratio))
        if proposed == self.difficulty:
            return None
        self.difficulty = proposed
        return proposed
