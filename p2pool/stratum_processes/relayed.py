"""A Stratum worker process's side of the node: the work the node sent it turned into jobs, and what its
miners' solutions become (:class:`RelayedWork`, the server's :class:`~p2pool.stratum.provider.WorkSource`);
the bans the node keeps (:class:`RelayedBans`) and the connections the node admitted (:class:`RelayedGate`).

A submit that meets only the miner's difficulty is decided here as the node would decide it (stale on an
old Bitcoin block, or too deep below the tip for an uncle; else accepted): most submits never leave the
process. One that meets the share or block target is the node's to take: the process asks it and waits for
the answer (:class:`~p2pool.stratum_processes.messages.Take`) before the miner hears anything, so a share the
miner is told was accepted is one the node has stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from p2pool.chain.template import BlockTemplate
from p2pool.p2p.banlist import Ban
from p2pool.stratum.accept import Gate
from p2pool.stratum.job import Solution, StratumJob
from p2pool.stratum.limits import StratumLimits
from p2pool.stratum.submit import SubmitError
from p2pool.stratum_processes.messages import NoWork, Take, Taken, Work
from p2pool.stratum_processes.wire import BlockingChannel, WireError
from p2pool.work.issuer import JobIssuer, stale_error
from p2pool.work.shared_job import JobWork, SharedWork
from sharechain.bitcoin.address import address_to_script
from sharechain.bitcoin.hashing import hash_to_int
from sharechain.bitcoin.stratum import codec as p
from sharechain.params import NetworkParams

log = logging.getLogger("otedama.stratum.worker")

# How long a worker process waits for the node to take a share before telling the miner it was not taken.
TAKE_TIMEOUT = 10.0


def without_transactions(template: BlockTemplate) -> BlockTemplate:
    """What a worker process needs of a template: everything but its transactions (the node builds blocks)."""
    return replace(template, transactions=())


class RelayedWork:
    """Jobs from the node's latest :class:`Work`, and solutions decided here or taken by the node."""

    def __init__(self, params: NetworkParams, take_channel: BlockingChannel) -> None:
        self.params = params
        self._channel = take_channel
        self._jobs = JobIssuer(params.uncle_depth)
        self._work: SharedWork | None = None
        self._block: bytes | None = None
        self._tip_height: int | None = None
        self._requests = 0
        self.taken = 0  # solutions the node was asked to take

    def on_message(self, message: Work | NoWork) -> bool:
        """New work (or none) from the node; its clean flag (the server fans it out)."""
        if isinstance(message, Work):
            self._work = SharedWork(self.params, message.head, message.share, message.branch, message.work_id)
            self._block, self._tip_height = message.head.prev_hash, message.tip_height
        else:
            self._work, self._block, self._tip_height = None, message.block or None, message.tip_height
        self._jobs.new_work(message.clean, self._block or b"", -1 if self._tip_height is None else self._tip_height)
        return message.clean

    # --- WorkSource -----------------------------------------------------------------------------------
    def job_for(self, payout_script: bytes) -> StratumJob | None:
        work = self._work
        return self._jobs.job(work, payout_script) if work is not None else None

    def parse_payout_address(self, address: str) -> bytes:
        return address_to_script(address, self.params.address_format)

    def unknown_job(self, job_id: str) -> SubmitError:
        return self._jobs.unknown_job(job_id, self._block, self._tip_height)

    def take(self, solution: Solution) -> SubmitError | None:
        job, work = solution.job, solution.job.origin
        if not isinstance(work, JobWork):
            return self.unknown_job(job.job_id)
        if self._block is None or work.template.prev_hash != self._block:
            return stale_error("stale-block", "the job was for a previous Bitcoin block")
        value = hash_to_int(solution.hash)
        if value <= job.share_target or value <= job.block_target:
            return self._ask(solution, work.work_id)
        # The node also refuses a share whose parent left the sharechain (a reorganisation deeper than
        # the uncle depth); here only the depth is known, and such a submit is counted as accepted.
        return self._jobs.too_deep(work.share.height, self._tip_height)

    def _ask(self, solution: Solution, work_id: int) -> SubmitError | None:
        self._requests += 1
        self.taken += 1
        request = Take(self._requests, work_id, solution.job.job_id, solution.job.clean, solution.payout_script,
                       solution.worker, solution.extranonce1, solution.extranonce2, solution.ntime, solution.nonce,
                       solution.version)
        try:
            answer = self._channel.ask(request, self._requests, TAKE_TIMEOUT)
        except WireError as exc:
            log.error("stratum worker: the node did not take a share of %s: %s", solution.worker, exc)
            return SubmitError(p.OTHER, "node-unavailable", f"Share not taken: the node did not answer ({exc})")
        assert isinstance(answer, Taken)
        return SubmitError(*answer.error) if answer.error is not None else None


class RelayedBans:
    """The node's Stratum bans as it last sent them; strikes are counted for the node, which bans."""

    def __init__(self, bans: tuple[Ban, ...], strike: Callable[[str, int, int], None]) -> None:
        self._bans = {ban.peer: ban for ban in bans}
        self._strike = strike

    def replace(self, bans: tuple[Ban, ...]) -> None:
        self._bans = {ban.peer: ban for ban in bans}

    def banned(self, ip: str, now: float) -> Ban | None:
        ban = self._bans.get(ip)
        return ban if ban is not None and ban.until > now else None

    def strike(self, ip: str, invalid: int, good: int, now: float) -> Ban | None:
        if invalid or good:
            self._strike(ip, invalid, good)
        return None  # the node decides; a ban it makes comes back in its next Bans, and the sweeper closes

    def reload(self) -> int:
        return len(self._bans)


class RelayedGate(Gate):
    """The node admitted each connection (its per-IP counts, its bans): here a closed one is reported back."""

    def __init__(self, limits: StratumLimits, bans: RelayedBans, publish: Callable[[object], None],
                 closed: Callable[[str], None]) -> None:
        super().__init__(limits, bans, publish)
        self._closed = closed

    def admit(self, ip: str) -> bytes | None:
        return None

    def release(self, ip: str) -> None:
        self._closed(ip)
