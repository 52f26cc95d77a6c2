"""The node's mining logic: jobs for miners, and solutions turned into shares and blocks.

Implements the Stratum server's ``WorkProvider``. It owns the current block template and the
sharechain; the chain's :class:`~sharechain.result.AddResult` decides what to store and when to
hand out new work.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import trio

from p2pool.chain.backend import ChainBackend, ChainUnavailable
from p2pool.chain.monitor import Health, TemplateMonitor
from p2pool.chain.template import BlockTemplate
from p2pool.metrics import NodeMetrics
from p2pool.stratum.job import Solution, StratumJob
from p2pool.stratum.server import StratumServer
from p2pool.work.job_builder import JobContext, block_from_solution, build_job, share_from_solution
from sharechain.bitcoin.address import address_to_script, script_to_address
from sharechain.bitcoin.hashing import hash_to_hex, hash_to_int, sha256d
from sharechain.chain import ShareChain
from sharechain.params import NetworkParams
from sharechain.result import AddResult, AddStatus
from sharechain.share import Share
from sharechain.store import ShareStore

log = logging.getLogger("otedama.pool")
_KEPT_JOBS = 4096
_RECENT_BLOCKS = 50
_SUBMIT_ATTEMPTS = 4


class Pool:
    def __init__(self, params: NetworkParams, chain: ShareChain, store: ShareStore, backend: ChainBackend,
                 metrics: NodeMetrics, *, clock: Callable[[], float]) -> None:
        self.params = params
        self.chain = chain
        self.store = store
        self.backend = backend
        self.metrics = metrics
        self.clock = clock
        self.template: BlockTemplate | None = None
        self.chain_problem: str | None = "waiting for the first block template"
        self._stratum: StratumServer | None = None
        self._contexts: OrderedDict[str, JobContext] = OrderedDict()
        self._current: dict[bytes, JobContext] = {}
        self._clean = True
        self._job_counter = 0
        self.blocks: list[dict[str, Any]] = sorted(store.blocks(), key=lambda b: b.get("time", 0))
        self.monitor = TemplateMonitor(backend, on_template=self._on_template, on_health=self._on_health)

    def attach_stratum(self, stratum: StratumServer) -> None:
        self._stratum = stratum

    async def run_monitor(self) -> None:
        await self.monitor.run()

    # --- templates --------------------------------------------------------------------------------
    def _on_template(self, template: BlockTemplate) -> None:
        new_block = self.template is None or template.prev_hash != self.template.prev_hash
        self.template = template
        self.chain_problem = None
        self.metrics.blockchain_connected.set(1)
        self._new_work(clean=new_block)

    def _on_health(self, health: Health) -> None:
        self.metrics.blockchain_connected.set(1 if health.healthy else 0)
        if not health.healthy:
            self.template = None
            self.chain_problem = f"chain backend unavailable: {health.error}"
            self._new_work(clean=True)  # miners hear there is no work instead of mining stale jobs

    def _new_work(self, clean: bool) -> None:
        self._current.clear()
        self._clean = clean
        if self._stratum is not None:
            self._stratum.new_work(clean)

    # --- WorkProvider -------------------------------------------------------------------------------
    def parse_payout_address(self, address: str) -> bytes:
        return address_to_script(address, self.params.address_format)

    def job_for(self, payout_script: bytes) -> StratumJob | None:
        if self.template is None:
            return None
        context = self._current.get(payout_script)
        if context is None:
            self._job_counter += 1
            context = build_job(self.chain, self.template, payout_script, now=int(self.clock()),
                                job_id=f"{self._job_counter:x}", clean=self._clean)
            self._current[payout_script] = context
            self._contexts[context.job.job_id] = context
            while len(self._contexts) > _KEPT_JOBS:
                self._contexts.popitem(last=False)
        return context.job

    async def submit(self, solution: Solution) -> None:
        context = self._contexts.get(solution.job.job_id)
        if context is None:
            log.info("solution for a forgotten job %s from %s ignored", solution.job.job_id, solution.worker)
            return
        value = hash_to_int(solution.hash)
        if value <= context.job.block_target:
            await self._submit_block(context, solution)
        if value <= context.job.share_target:
            self.add_share(share_from_solution(context, solution))

    # --- shares and blocks ---------------------------------------------------------------------------
    def add_share(self, share: Share) -> AddResult:
        result = self.chain.add(share, now=int(self.clock()))
        if result.status is AddStatus.ADDED:
            self.store.put_shares(list(result.accepted))
            self.metrics.shares_valid.inc(len(result.accepted))
            tip = self.chain.tip
            log.info("share %s accepted at height %d (%d shares)", hash_to_hex(share.hash)[:16],
                     share.info.height, len(self.chain))
            if result.reorg_depth:
                log.warning("sharechain reorganised: %d shares left the main chain", result.reorg_depth)
            if result.new_tip is not None and tip is not None:
                self.metrics.sharechain_height.set(tip.height)
                self._new_work(clean=False)
        elif result.status is AddStatus.INVALID:
            self.metrics.shares_invalid.inc()
            log.warning("share %s refused: %s", hash_to_hex(share.hash)[:16], result.error)
        return result

    async def _submit_block(self, context: JobContext, solution: Solution) -> None:
        block = block_from_solution(context, solution)
        block_hash = hash_to_hex(sha256d(solution.header))
        outcome = None
        for attempt in range(_SUBMIT_ATTEMPTS):
            try:
                outcome = await self.backend.submit_block(block)
                break
            except ChainUnavailable as exc:
                log.error("block %s found but not delivered (attempt %d of %d): %s", block_hash, attempt + 1,
                          _SUBMIT_ATTEMPTS, exc)
                await trio.sleep(0.5 * 2**attempt)
        if outcome is None:
            return
        # A retry of a block that did arrive the first time is answered "duplicate".
        if not outcome.accepted and not (attempt and outcome.reason == "duplicate"):
            log.warning("block %s at height %d refused by the chain backend: %s", block_hash,
                        context.template.height, outcome.reason)
            return
        record = {
            "hash": block_hash,
            "height": context.template.height,
            "time": int(self.clock()),
            "share": hash_to_hex(solution.hash),
            "share_info": context.info.serialize().hex(),
            "worker": solution.worker,
            "value": context.template.coinbase_value,
            "payouts": [[script_to_address(s, self.params.address_format), v] for s, v in context.payouts],
        }
        self.store.put_block(sha256d(solution.header), record)
        self.blocks.append(record)
        self.metrics.blocks_found.inc()
        log.info("BLOCK FOUND %s at height %d paying %d outputs", block_hash, context.template.height,
                 len(context.payouts))
        self.monitor.refresh()

    # --- status -------------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        return [self.chain_problem] if self.chain_problem else []

    def status(self) -> dict[str, Any]:
        tip = self.chain.tip
        stats = self._stratum.stats() if self._stratum else None
        template = self.template
        return {
            "network": self.params.name,
            "healthy": not self.problems(),
            "problems": self.problems(),
            "chain": {
                "connected": template is not None,
                "height": template.height - 1 if template else None,
                "best_block": hash_to_hex(template.prev_hash) if template else None,
            },
            "sharechain": {
                "tip": hash_to_hex(tip.hash) if tip else None,
                "height": tip.height if tip else None,
                "shares": len(self.chain),
                "orphans": len(self.chain.orphans),
                "share_difficulty": (0xFFFF << 208) / tip.target if tip else None,
            },
            "blocks_found": len(self.blocks),
            "blocks": self.blocks[-_RECENT_BLOCKS:],
            "miners_connected": stats.connections if stats else 0,
            "workers": [{"name": w.name, "accepted": w.accepted, "rejected": w.rejected, "hashrate": w.hashrate}
                        for w in stats.workers] if stats else [],
            "hashrate": stats.hashrate if stats else 0.0,
            "shares_accepted": stats.accepted if stats else 0,
            "shares_rejected": dict(stats.rejected) if stats else {},
        }

    async def run_stats(self) -> None:
        """Refresh the gauges that are sampled rather than counted."""
        while True:
            if self._stratum is not None:
                stats = self._stratum.stats()
                self.metrics.hashrate.set(stats.hashrate)
                self.metrics.miners_active.set(stats.connections)
            tip = self.chain.tip
            if tip is not None:
                self.metrics.sharechain_height.set(tip.height)
            await trio.sleep(1)
