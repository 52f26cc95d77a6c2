"""The node's status document (``/api/status``), put together from read-only views of its parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from p2pool.share_fates import ShareFates
from p2pool.stratum.stats import StratumStats
from p2pool.work.found_blocks import FoundBlocks
from p2pool.work.provider import WorkProvider
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.chain import ShareChain
from sharechain.params import NetworkParams

RECENT_BLOCKS = 50
TOP_WORKERS = 20  # the status stays small however many miners connect: /api/workers lists them all


@dataclass
class StatusSources:
    """What the status is read from; a seed node has no work, no Stratum and no found blocks."""

    params: NetworkParams
    chain: ShareChain
    work: WorkProvider | None = None
    stratum: Callable[[], StratumStats] | None = None
    found: FoundBlocks | None = None
    fates: ShareFates | None = None
    p2p: Callable[[], dict[str, Any]] | None = None

    # Why the share database takes no writes (None: it does).
    store_unwritable: Callable[[], str | None] | None = None

    def problems(self) -> list[str]:
        problems = self.work.problems() if self.work is not None else []
        reason = self.store_unwritable() if self.store_unwritable is not None else None
        if reason is not None:
            problems.append(f"store-unwritable: the share database cannot write ({reason}); new shares are "
                            "refused until it can (free disk space: the node retries by itself)")
        return problems

    def status(self) -> dict[str, Any]:
        tip = self.chain.tip
        stats = self.stratum() if self.stratum is not None else None
        template = self.work.template if self.work is not None else None
        problems = self.problems()
        found = self.found.all() if self.found is not None else []
        return {
            "network": self.params.name,
            "healthy": not problems,
            "problems": problems,
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
                # The keep rule: forks below the floor are refused, nothing below the lowest height is kept.
                "lowest_height": self.chain.horizon.lowest if tip else None,
                "floor": max(self.chain.horizon.floor, -1) if tip else None,
                "share_difficulty": (0xFFFF << 208) / tip.target if tip else None,
            },
            "blocks_found": len(found),
            "blocks": [b.as_dict() for b in found[-RECENT_BLOCKS:]],
            "miners_connected": stats.connections if stats else 0,
            "workers": [{"name": w.name, "accepted": w.accepted, "rejected": w.rejected, "hashrate": w.hashrate,
                         "shares": self.fates.of_worker(w.name) if self.fates else {}}
                        for w in sorted(stats.workers, key=lambda w: (-w.hashrate, w.name))[:TOP_WORKERS]]
            if stats else [],
            "workers_total": len(stats.workers) if stats else 0,
            # The shares that joined the sharechain since start and their fate: on the main chain, paid
            # as uncles, or orphaned (neither), for this node's own miners and for every share it knows.
            "shares": self.fates.summary() if self.fates else {},
            "hashrate": stats.hashrate if stats else 0.0,
            "shares_accepted": stats.accepted if stats else 0,
            "shares_rejected": dict(stats.rejected) if stats else {},
            **(self.p2p() if self.p2p is not None else {}),
        }
