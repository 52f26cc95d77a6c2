"""The interface the node implements for the Stratum server."""

from __future__ import annotations

from typing import Protocol

from p2pool.stratum.job import Solution, StratumJob
from sharechain.bitcoin.address import AddressError

__all__ = ["AddressError", "WorkProvider", "WorkSource"]


class WorkSource(Protocol):
    """The synchronous half, all a :class:`~p2pool.stratum.session.Session` needs."""

    def job_for(self, payout_script: bytes) -> StratumJob | None:
        """The current job for a miner paying to this script; None = no work (backend down, syncing)."""
        ...

    def parse_payout_address(self, address: str) -> bytes:
        """The output script for a payout address; raises AddressError with a clear message."""
        ...


class WorkProvider(WorkSource, Protocol):
    """What the node gives the server: jobs, address checks, and a sink for solutions."""

    async def submit(self, solution: Solution) -> None:
        """Called for every submit that met the connection's difficulty (share/block checks are the node's)."""
        ...
