"""Follows every share that joined until its fate is settled (main chain, uncle or orphan), announces
it (:class:`~p2pool.events.SharesSettled`: every share settled at one tip change) and counts fates:
for the shares of this node's own miners, per local worker, and for all shares the node knows."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple

from p2pool.events import SharesAccepted, ShareSettled, ShareSource, SharesSettled, SourceKind, TipChanged
from sharechain.chain import ShareChain
from sharechain.fate import Fate, fates

# Local workers whose counts are kept (their names come from miners; the Stratum server bounds them).
_MAX_WORKERS = 100_000


class _Pending(NamedTuple):
    """(A tuple: one is made for every share that joins, thousands a second in a join.)"""

    height: int
    source: ShareSource
    payout_script: bytes


class ShareFates:
    def __init__(self, chain: ShareChain, publish: Callable[[object], None]) -> None:
        self._chain = chain
        self._publish = publish
        self._pending: dict[bytes, _Pending] = {}
        # (height, hash) of every pending share, lowest first: a tip change looks only at the ripe ones
        # (a join brings tens of thousands of pending shares and a tip change every few hundred).
        self._by_height: list[tuple[int, bytes]] = []
        self.local: Counter[Fate] = Counter()
        self.network: Counter[Fate] = Counter()
        self.by_worker: dict[str, Counter[Fate]] = {}

    def on_shares_accepted(self, event: SharesAccepted) -> None:
        for share in event.shares:
            if share.hash not in self._pending:
                heapq.heappush(self._by_height, (share.info.height, share.hash))
            self._pending[share.hash] = _Pending(share.info.height, event.source, share.info.payout_script)

    def on_tip_changed(self, event: TipChanged) -> None:
        ripe_below = event.tip.height - self._chain.params.uncle_depth
        ripe: list[bytes] = []
        while self._by_height and self._by_height[0][0] <= ripe_below:
            ripe.append(heapq.heappop(self._by_height)[1])
        if not ripe:
            return
        found = fates(self._chain, ripe)
        settled: list[ShareSettled] = []
        for share_hash in ripe:
            pending = self._pending.pop(share_hash)
            fate = found.get(share_hash)
            if fate is None:  # no longer in the chain (pruned, or never was): nothing to say
                continue
            self._count(fate, pending.source)
            settled.append(ShareSettled(share_hash, fate, pending.source, pending.payout_script))
        if settled:
            self._publish(SharesSettled(tuple(settled)))

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
