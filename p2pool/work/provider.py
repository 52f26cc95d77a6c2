"""Work for the node's miners: the current block template and sharechain tip turned into Stratum
jobs, and solutions of those jobs turned back into shares and blocks.

It implements the Stratum server's :class:`~p2pool.stratum.provider.WorkSource`. It hears of new
templates, tips, backend health and sync state as events (the composition root routes them here)
and announces :class:`~p2pool.events.NewWork` when miners need new jobs.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from p2pool.chain.template import BlockTemplate
from p2pool.events import (
    ChainHealthChanged,
    NewWork,
    ShareSource,
    SourceKind,
    SyncStateChanged,
    TemplateChanged,
    TipChanged,
)
from p2pool.intake import ShareIntake
from p2pool.stratum.job import Solution, StratumJob
from p2pool.stratum.submit import SubmitError
from p2pool.work.job_builder import JobContext, build_job, share_from_solution
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
_KEPT_JOBS = 4096


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
        self._contexts: OrderedDict[str, JobContext] = OrderedDict()
        self._current: dict[bytes, JobContext] = {}
        self._clean = True
        self._job_counter = 0

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
        # Work on the old tip could only make side shares: miners switch at once.
        self._new_work(clean=True)

    def on_sync_state(self, event: SyncStateChanged) -> None:
        if event.behind == self.syncing:
            return
        self.syncing = event.behind
        log.info("sharechain %s", "behind peers: miners wait until it has caught up" if event.behind else "caught up")
        self._new_work(clean=True)

    def _new_work(self, clean: bool) -> None:
        self._current.clear()
        self._clean = clean
        self._publish(NewWork(clean))

    # --- WorkSource -----------------------------------------------------------------------------------
    def parse_payout_address(self, address: str) -> bytes:
        return address_to_script(address, self.params.address_format)

    def job_for(self, payout_script: bytes) -> StratumJob | None:
        if self.template is None or (self.syncing and self.wait_while_syncing):
            return None
        context = self._current.get(payout_script)
        if context is None:
            self._job_counter += 1
            context = build_job(self._chain, self.template, payout_script, now=int(self._clock()),
                                job_id=f"{self._job_counter:x}", clean=self._clean)
            self._current[payout_script] = context
            self._contexts[context.job.job_id] = context
            while len(self._contexts) > _KEPT_JOBS:
                self._contexts.popitem(last=False)
        return context.job

    def next_payouts(self, payout_script: bytes) -> tuple[ShareInfo, list[Payout], int] | None:
        """What the next share of a miner paid to ``payout_script`` carries, and so what a block it finds
        pays: (share info, coinbase payouts, coinbase value). The current job's if that miner has one,
        else computed as its job would be (``ShareChain.prepare``); None without a template."""
        template = self.template
        if template is None:
            return None
        context = self._current.get(payout_script)
        if context is not None:
            return context.info, list(context.payouts), context.template.coinbase_value
        info, payouts = self._chain.prepare(payout_script, int(self._clock()), template.coinbase_value)
        return info, payouts, template.coinbase_value

    def take(self, solution: Solution) -> SubmitError | None:
        context = self._contexts.get(solution.job.job_id)
        if context is None:
            log.info("solution for a forgotten job %s from %s refused", solution.job.job_id, solution.worker)
            return SubmitError(p.JOB_NOT_FOUND, "job-not-found", "Job not found")
        value = hash_to_int(solution.hash)
        if value <= context.job.block_target:
            self._blocks.submit(context, solution)
        if value > context.job.share_target:
            return None
        share = share_from_solution(context, solution)
        result = self._intake.add(share, ShareSource(SourceKind.LOCAL, worker=solution.worker))
        if result.status is AddStatus.INVALID:
            return SubmitError(p.OTHER, "invalid-share", f"Share refused by the sharechain: {result.error}")
        return None
