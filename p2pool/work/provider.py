"""Work for the node's miners: the current block template and sharechain tip turned into Stratum
jobs, and solutions of those jobs turned back into shares and blocks.

It implements the Stratum server's :class:`~p2pool.stratum.provider.WorkSource`. It hears of new
templates, tips, backend health and sync state as events (the composition root routes them here)
and announces :class:`~p2pool.events.NewWork` when miners need new jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from p2pool.chain.template import BlockTemplate
from p2pool.events import (
    ChainHealthChanged,
    NewWork,
    ShareSource,
    SourceKind,
    StoreWritable,
    SyncStateChanged,
    TemplateChanged,
    TipChanged,
)
from p2pool.intake import ShareIntake
from p2pool.storage.share_store import StoreWriteError
from p2pool.stratum.job import Solution, StratumJob
from p2pool.stratum.submit import SubmitError
from p2pool.work.issuer import JobIssuer, stale_error
from p2pool.work.job_builder import JobContext, share_from_solution
from p2pool.work.shared_job import JobWork, MerkleBranches, SharedWork
from p2pool.work.submitter import BlockSubmitter
from sharechain.bitcoin.address import address_to_script
from sharechain.bitcoin.hashing import hash_to_int
from sharechain.bitcoin.stratum import codec as p
from sharechain.chain import ShareChain
from sharechain.params import NetworkParams
from sharechain.pplns import Payout
from sharechain.result import AddStatus
from sharechain.share import ShareInfo

log = logging.getLogger("otedama.work")


class WorkProvider:
    def __init__(self, params: NetworkParams, chain: ShareChain, intake: ShareIntake, blocks: BlockSubmitter,
                 publish: Callable[[object], None], clock: Callable[[], float], *,
                 wait_while_syncing: bool = True) -> None:
        self.params = params
        self._chain = chain
        self._intake = intake
        self._blocks = blocks
        self._publish = publish
        self._clock = clock
        self.wait_while_syncing = wait_while_syncing
        self.template: BlockTemplate | None = None
        self.chain_problem: str | None = "waiting for the first block template"
        self.syncing = False
        # A job carries its own context (``StratumJob.origin``): a solution of any job a connection still
        # holds can be taken (even on a share tip too old for an uncle, it can still be a block), and a
        # context lives exactly as long as some connection holds its job: no cache to outgrow.
        # The work of the current template and tip, prepared once on the first job asked for it.
        self._work: SharedWork | None = None
        self._branches = MerkleBranches()
        self._jobs = JobIssuer(params.uncle_depth)

    def problems(self) -> list[str]:
        return [self.chain_problem] if self.chain_problem else []

    # --- what the node hears ------------------------------------------------------------------------
    def on_template(self, event: TemplateChanged) -> None:
        self.template = event.template
        self.chain_problem = None
        self._new_work(clean=event.new_block)

    def on_chain_health(self, event: ChainHealthChanged) -> None:
        if not event.health.healthy:
            self.template = None
            self.chain_problem = f"chain backend unavailable: {event.health.error}"
            self._new_work(clean=True)  # miners hear there is no work instead of mining stale jobs

    def on_tip_changed(self, event: TipChanged) -> None:
        # Work on the old tip is still real work: a share on it joins as a side share and is paid as
        # an uncle. Miners get the new job, but need not drop what they are hashing (clean_jobs false).
        self._new_work(clean=False)

    def on_store_writable(self, event: StoreWritable) -> None:
        if event.recovered:  # the chain was loaded again from the disk: jobs on its records
            self._new_work(clean=False)

    def on_sync_state(self, event: SyncStateChanged) -> None:
        if event.behind == self.syncing:
            return
        self.syncing = event.behind
        log.info("sharechain %s", "behind peers: miners wait until it has caught up" if event.behind else "caught up")
        self._new_work(clean=True)

    def _new_work(self, clean: bool) -> None:
        self._work = None
        tip = self._chain.tip
        self._jobs.new_work(clean, self.template.prev_hash if self.template is not None else b"",
                            tip.height if tip else -1)
        self._publish(NewWork(clean))

    # --- WorkSource -----------------------------------------------------------------------------------
    def parse_payout_address(self, address: str) -> bytes:
        return address_to_script(address, self.params.address_format)

    def job_for(self, payout_script: bytes) -> StratumJob | None:
        work = self.shared_work()
        return self._jobs.job(work, payout_script) if work is not None else None

    def shared_work(self) -> SharedWork | None:
        """The work of the current template and tip, prepared once (None: no work, as :meth:`job_for`)."""
        if self.template is None or (self.syncing and self.wait_while_syncing):
            return None
        work = self._work
        if work is None or work.template is not self.template:
            work = self._work = SharedWork.prepare(self._chain, self.template, int(self._clock()), self._branches)
        return work

    def tip_height(self) -> int | None:
        tip = self._chain.tip
        return tip.height if tip is not None else None

    def next_payouts(self, payout_script: bytes) -> tuple[ShareInfo, list[Payout], int] | None:
        """What the next share of a miner paid to ``payout_script`` carries, and so what a block it finds
        pays: (share info, coinbase payouts, coinbase value). The current job's if that miner has one,
        else computed as its job would be (``ShareChain.prepare``); None without a template."""
        template = self.template
        if template is None:
            return None
        job = self._jobs.current(payout_script)
        context = JobContext.of(job, payout_script) if job is not None else None
        if context is not None:
            return context.info, list(context.payouts), context.template.coinbase_value
        info, payouts = self._chain.prepare(payout_script, int(self._clock()), template.coinbase_value)
        return info, payouts, template.coinbase_value

    def take(self, solution: Solution) -> SubmitError | None:
        job, work = solution.job, solution.job.origin
        if not isinstance(work, JobWork):
            return self.unknown_job(job.job_id)
        if self.template is None or work.template.prev_hash != self.template.prev_hash:
            return stale_error("stale-block", "the job was for a previous Bitcoin block")
        value = hash_to_int(solution.hash)
        if value <= job.block_target:  # a block whatever the sharechain makes of the share
            self._blocks.submit(self._context(job, solution.payout_script), solution)
        stale = self._stale_share(work.share.height, work.share.prev_hash)
        if stale is not None:
            return stale
        if value > job.share_target:
            return None  # most submits: the share and payouts are not computed again for them
        share = share_from_solution(self._context(job, solution.payout_script), solution)
        try:
            result = self._intake.add(share, ShareSource(SourceKind.LOCAL, worker=solution.worker))
        except StoreWriteError as exc:  # the share is not kept: the miner is told, not answered true
            return SubmitError(p.OTHER, "store-unwritable", f"Share not stored, the node refuses shares: {exc}")
        if result.status is AddStatus.INVALID:
            return SubmitError(p.OTHER, "invalid-share", f"Share refused by the sharechain: {result.error}")
        return None

    def unknown_job(self, job_id: str) -> SubmitError:
        """Why a submit names a job we hold no work for: never issued, or stale (and why)."""
        block = self.template.prev_hash if self.template is not None else None
        return self._jobs.unknown_job(job_id, block, self.tip_height())

    @staticmethod
    def _context(job: StratumJob, payout_script: bytes) -> JobContext:
        context = JobContext.of(job, payout_script)
        assert context is not None
        return context

    def _stale_share(self, height: int, prev_hash: bytes) -> SubmitError | None:
        """Why a solution of a job for a share at ``height`` on ``prev_hash`` (on the current Bitcoin
        block) can no longer be a useful share."""
        if height and prev_hash not in self._chain:
            return stale_error("stale-share", "the share it builds on is no longer in the sharechain")
        return self._jobs.too_deep(height, self.tip_height())
