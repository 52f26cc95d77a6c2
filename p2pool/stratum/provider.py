"""The interface the node implements for the Stratum server."""

from __future__ import annotations

from typing import Protocol

from p2pool.stratum.job import Solution, StratumJob
from p2pool.stratum.submit import SubmitError
from sharechain.bitcoin.address import AddressError

__all__ = ["AddressError", "WorkSource"]


class WorkSource(Protocol):
    """What a :class:`~p2pool.stratum.session.Session` needs from the node: jobs, address checks, and a
    taker for solutions. All synchronous: the node answers before the miner is told anything."""

    def job_for(self, payout_script: bytes) -> StratumJob | None:
        """The current job for a miner paying to this script; None = no work (backend down, syncing)."""
        ...

    def parse_payout_address(self, address: str) -> bytes:
        """The output script for a payout address; raises AddressError with a clear message."""
        ...

    def unknown_job(self, job_id: str) -> SubmitError:
        """What to tell a miner who submits for a job this connection holds no longer (or never got):
        stale (with the reason) or not found."""
        ...

    def take(self, solution: Solution) -> SubmitError | None:
        """Take a submit that met the connection's difficulty (the share and block checks are the node's).

        None once it is safe (a share is stored durably, a block is queued for submission); else the
        reason the miner is told."""
        ...
