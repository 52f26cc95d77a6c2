"""Follows every share that joined until its fate is settled (main chain, uncle or orphan), announces
it (:class:`~p2pool.events.ShareSettled`) and counts fates: for the shares of this node's own miners,
per local worker, and for all shares the node knows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from p2pool.events import SharesAccepted, ShareSettled, ShareSource, SourceKind, TipChanged
from sharechain.chain import ShareChain
from sharechain.fate import Fate, fates

# Local workers whose counts are kept (their names come from miners; the Stratum server bounds them).
_MAX_WORKERS = 100_000


@dataclass(frozen=True)
class _Pending:
    height: int
    source: ShareSource
    payout_script: bytes


class ShareFates:
    def __init__(self, chain: ShareChain, publish: Callable[[object], None]) -> None:
        self._chain = chain
        self._publish = publish
        self._pending: dict[bytes, _Pending] = {}
        self.local: Counter[Fate] = Counter()
        self.network: Counter[Fate] = Counter()
        self.by_worker: dict[str, Counter[Fate]] = {}

    def on_shares_accepted(self, event: SharesAccepted) -> None:
        for share in event.shares:
            self._pending[share.hash] = _Pending(share.info.height, event.source, share.info.payout_script)

    def on_tip_changed(self, event: TipChanged) -> None:
        depth = self._chain.params.uncle_depth
        ripe = [h for h, p in self._pending.items() if event.tip.height - p.height >= depth]
        if not ripe:
            return
        found = fates(self._chain, ripe)
        for share_hash in ripe:
            pending = self._pending.pop(share_hash)
            fate = found.get(share_hash)
            if fate is None:  # no longer in the chain (pruned, or never was): nothing to say
                continue
            self._count(fate, pending.source)
            self._publish(ShareSettled(share_hash, fate, pending.source, pending.payout_script))

    def _count(self, fate: Fate, source: ShareSource) -> None:
        self.network[fate] += 1
        if source.kind is not SourceKind.LOCAL:
            return
        self.local[fate] += 1
        if source.worker is not None and (source.worker in self.by_worker or len(self.by_worker) < _MAX_WORKERS):
            self.by_worker.setdefault(source.worker, Counter())[fate] += 1

    def summary(self) -> dict[str, dict[str, int]]:
        """Settled counts by fate for this node's miners and for all shares, and what is still pending."""
        pending_local = sum(1 for p in self._pending.values() if p.source.kind is SourceKind.LOCAL)
        return {
            "local": {**{f.value: self.local[f] for f in Fate}, "pending": pending_local},
            "network": {**{f.value: self.network[f] for f in Fate}, "pending": len(self._pending)},
        }

    def of_worker(self, worker: str) -> dict[str, int]:
        counts = self.by_worker.get(worker, Counter())
        return {f.value: counts[f] for f in Fate}
