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
from p2pool.storage.share_store import ShareStore
from p2pool.stratum.job import Solution, StratumJob
from p2pool.stratum.server import StratumServer
from p2pool.work.job_builder import JobContext, block_from_solution, build_job, share_from_solution
from sharechain.bitcoin.address import address_to_script, script_to_address
from sharechain.bitcoin.hashing import hash_to_hex, hash_to_int, sha256d
from sharechain.chain import ShareChain
from sharechain.params import NetworkParams
from sharechain.result import AddResult, AddStatus
from sharechain.share import Share

log = logging.getLogger("otedama.pool")
_KEPT_JOBS = 4096
_RECENT_BLOCKS = 50
_SUBMIT_ATTEMPTS = 4


class Pool:
    """``backend`` is None on a seed node: it validates, stores and relays shares but mines nothing."""

    def __init__(self, params: NetworkParams, chain: ShareChain, store: ShareStore, backend: ChainBackend | None,
                 metrics: NodeMetrics, *, clock: Callable[[], float], wait_while_syncing: bool = True) -> None:
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
        self.monitor = TemplateMonitor(backend, on_template=self._on_template, on_health=self._on_health) \
            if backend is not None else None
        # Called with each share our own miners found, once it is stored (the P2P service gossips it).
        self.announce: Callable[[Share], None] | None = None
        # While the node is catching up with its peers, miners are told to wait instead of mining a stale tip.
        self.wait_while_syncing = wait_while_syncing
        self.syncing = False
        self.p2p_status: Callable[[], dict[str, Any]] | None = None
        # Called with every share that joined the chain (ours, from peers or sync), once stored.
        self.on_accepted: Callable[[list[Share]], None] | None = None

    def attach_stratum(self, stratum: StratumServer) -> None:
        self._stratum = stratum

    async def run_monitor(self) -> None:
        assert self.monitor is not None, "a seed node has no chain backend to monitor"
        await self.monitor.run()

    def set_syncing(self, syncing: bool) -> None:
        """The P2P service says whether the node is behind its peers; miners get fresh work when it is not."""
        if syncing == self.syncing:
            return
        self.syncing = syncing
        log.info("sharechain %s", "behind peers: miners wait until it has caught up" if syncing else "caught up")
        self._new_work(clean=True)

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
        if self.template is None or (self.syncing and self.wait_while_syncing):
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
            share = share_from_solution(context, solution)
            result = self.add_share(share)
            if result.status is AddStatus.ADDED and self.announce is not None:
                self.announce(share)

    # --- shares and blocks ---------------------------------------------------------------------------
    def add_share(self, share: Share, *, source: str = "miner") -> AddResult:
        """Validate ``share`` (from our miners or a peer) and store what it connects, durably, first."""
        return self.add_shares([share], source=source)[0]

    def add_shares(self, shares: list[Share], *, source: str = "miner") -> list[AddResult]:
        """Add several shares in order with one durable write for all accepted (a sync batch)."""
        now = int(self.clock())
        results = [self.chain.add(share, now=now) for share in shares]
        accepted = [s for r in results if r.status is AddStatus.ADDED for s in r.accepted]
        if accepted:
            self.store.put_shares(accepted)
            self.metrics.shares_valid.inc(len(accepted))
        new_tip = False
        for share, result in zip(shares, results, strict=True):
            if result.status is AddStatus.ADDED:
                new_tip = new_tip or result.new_tip is not None
                if len(shares) == 1:
                    log.info("share %s from %s accepted at height %d (%d shares)", hash_to_hex(share.hash)[:16],
                             source, share.info.height, len(self.chain))
                if result.reorg_depth:
                    log.warning("sharechain reorganised: %d shares left the main chain", result.reorg_depth)
            elif result.status is AddStatus.INVALID:
                self.metrics.shares_invalid.inc()
                log.warning("share %s from %s refused: %s", hash_to_hex(share.hash)[:16], source, result.error)
        if accepted and self.on_accepted is not None:
            self.on_accepted(accepted)
        tip = self.chain.tip
        if new_tip and tip is not None:
            self.metrics.sharechain_height.set(tip.height)
            # Work on the old tip could only make side shares: miners switch at once.
            self._new_work(clean=True)
        return results

    async def _submit_block(self, context: JobContext, solution: Solution) -> None:
        assert self.backend is not None and self.monitor is not None, "a seed node mines no blocks"
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
        if self.monitor is None:
            return []
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
            **(self.p2p_status() if self.p2p_status is not None else {}),
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
