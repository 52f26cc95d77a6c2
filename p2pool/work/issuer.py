"""Job ids and what became of them: the jobs of the current work per payout script, and for a job id no
connection holds any more, whether it is stale (and why) or was never issued.

The node's :class:`~p2pool.work.provider.WorkProvider` keeps one; so does each Stratum worker process
(:mod:`p2pool.stratum.relayed`), which issues its own job ids from the work the node sends it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from p2pool.stratum.job import StratumJob
from p2pool.stratum.submit import SubmitError
from p2pool.work.shared_job import SharedWork
from sharechain.bitcoin.stratum import codec as p

# Pieces of new work remembered, to tell a stale job from one never issued (a few hours of share tips).
GENERATIONS_KEPT = 4096


@dataclass(frozen=True)
class _Generation:
    """The jobs built since one piece of new work: from job number ``first_job`` on, on Bitcoin block
    ``block`` and a sharechain tip at ``tip_height`` (-1: no share yet). (The jobs of one piece of work share
    its number: a number is taken when the work's first job is built.)"""

    first_job: int
    block: bytes
    tip_height: int


class JobIssuer:
    """One job per payout script per piece of work, under the work's number (in hex): a connection mines
    for one payout script, so the id is still one job on it, and ten thousand miners' jobs of a piece of
    work share one id string."""

    def __init__(self, uncle_depth: int) -> None:
        self.uncle_depth = uncle_depth
        self._current: dict[bytes, StratumJob] = {}
        self._clean = True
        self._count = 0
        self._id: str | None = None  # the current work's job id, once it has a job
        self._generations: deque[_Generation] = deque(maxlen=GENERATIONS_KEPT)

    def new_work(self, clean: bool, block: bytes, tip_height: int) -> None:
        """New work on Bitcoin block ``block`` (b"": none) and a tip at ``tip_height``: jobs from now on are new."""
        self._current.clear()
        self._id = None
        self._clean = clean
        self._generations.append(_Generation(self._count + 1, block, tip_height))

    def current(self, payout_script: bytes) -> StratumJob | None:
        """The job of this work already issued for ``payout_script``, if any."""
        return self._current.get(payout_script)

    def job(self, work: SharedWork, payout_script: bytes) -> StratumJob:
        """The job of ``work`` for ``payout_script``: the one already issued, or a new one."""
        job = self._current.get(payout_script)
        if job is None:
            if self._id is None:
                self._count += 1
                self._id = f"{self._count:x}"
            job = self._current[payout_script] = work.job(payout_script, self._id, self._clean)
        return job

    def unknown_job(self, job_id: str, block: bytes | None, tip_height: int | None) -> SubmitError:
        """Why a submit names a job no connection holds: never issued, or stale (and why), with the current
        Bitcoin block ``block`` and sharechain tip height ``tip_height`` (None: none)."""
        number = _job_number(job_id)
        if number is None or not 0 < number <= self._count:
            return SubmitError(p.JOB_NOT_FOUND, "job-not-found", "Job not found")
        generation = next((g for g in reversed(self._generations) if g.first_job <= number), None)
        if generation is None:
            return stale_error("stale-expired", "the job has expired")
        if generation.block != block:
            return stale_error("stale-block", "the job was for a previous Bitcoin block")
        return self.too_deep(generation.tip_height + 1, tip_height) or stale_error("stale-expired", "the job has expired")

    def too_deep(self, height: int, tip_height: int | None) -> SubmitError | None:
        """A share at ``height`` can still be an uncle of the next share on the tip, or it is stale."""
        if tip_height is None:
            return None
        behind = tip_height + 1 - height
        if behind <= self.uncle_depth:
            return None
        return stale_error("stale-share", f"the job is {behind} shares behind the sharechain tip, and a share more "
                                    f"than {self.uncle_depth} behind can no longer be paid as an uncle")


def _job_number(job_id: str) -> int | None:
    """The counter a job id of ours carries (a connection may add ``.N`` to an id it was sent twice)."""
    head = job_id.split(".", 1)[0]
    if not 0 < len(head) <= 16:
        return None
    try:
        return int(head, 16)
    except ValueError:
        return None


def stale_error(reason: str, why: str) -> SubmitError:
    return SubmitError(p.JOB_NOT_FOUND, reason, f"Stale share: {why}")
