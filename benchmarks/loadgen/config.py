"""Settings of one load run, shared by the coordinating process and its worker processes."""

from __future__ import annotations

from dataclasses import dataclass

# Every connection is a file descriptor here and one in the node; the hard limit is 20,000.
MAX_MINERS = 19_000
MAX_DURATION = 3_600.0


@dataclass(frozen=True)
class LoadConfig:
    """What to run: ``miners`` connections for ``duration`` seconds, each submitting every ``interval``."""

    host: str = "127.0.0.1"
    port: int = 0
    miners: int = 1_000
    workers: int = 2
    duration: float = 60.0
    interval: float = 3.0
    # A submit unanswered this long is a timeout.
    timeout: float = 10.0
    # Connections opened per second over all workers while ramping up.
    connect_rate: float = 1_000.0
    ramp_timeout: float = 180.0
    # Seconds between real shares found by the finder (0: none), so new work arrives during the run.
    tip_interval: float = 10.0
    # The most nonces tried to meet a connection's difficulty before the submit is sent anyway.
    max_tries: int = 64
    # Seconds between printed samples.
    sample: float = 5.0
    # Counts the first miner index, so several runs (or generators) use different payout addresses.
    first_miner: int = 0
    # Niceness of the generator's processes: above 0 they yield the CPU to the node, as miners on other
    # machines would not take it (their readings of arrival times can then only come later, not earlier).
    nice: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.miners <= MAX_MINERS:
            raise ValueError(f"miners must be between 1 and {MAX_MINERS} (the open-file limit)")
        if not 0 < self.duration <= MAX_DURATION:
            raise ValueError(f"duration must be in (0, {MAX_DURATION:g}] seconds")
        if not 1 <= self.workers <= 32 or self.interval <= 0 or self.timeout <= 0 or self.connect_rate <= 0:
            raise ValueError("workers must be 1..32; interval, timeout and connect rate positive")

    def share(self, worker: int) -> range:
        """The miner indexes worker ``worker`` drives."""
        per, extra = divmod(self.miners, self.workers)
        start = worker * per + min(worker, extra)
        return range(start, start + per + (1 if worker < extra else 0))

    @property
    def deadline(self) -> float:
        """The longest a run may last end to end (every process gives up after it)."""
        return self.ramp_timeout + self.duration + self.timeout + 60.0
