"""Share intake: the one way a share joins the node's sharechain, whoever found it.

``chain.add`` validates and connects, the accepted shares are written durably, and only then are
they announced (:class:`~p2pool.events.SharesAccepted`, :class:`~p2pool.events.TipChanged`), so
nothing is ever gossiped or paid that a crash could lose. Refusals are announced too
(:class:`~p2pool.events.ShareRefused`); what a refusal costs a peer is the P2P layer's decision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from p2pool.events import ShareRefused, SharesAccepted, ShareSource, SourceKind, TipChanged
from p2pool.storage.share_store import ShareStore
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.chain import ShareChain
from sharechain.record import ShareRecord
from sharechain.result import AddResult, AddStatus
from sharechain.share import Share

log = logging.getLogger("otedama.intake")


class ShareIntake:
    def __init__(self, chain: ShareChain, store: ShareStore, publish: Callable[[object], None],
                 clock: Callable[[], float]) -> None:
        self.chain = chain
        self._store = store
        self._publish = publish
        self._clock = clock

    def add(self, share: Share, source: ShareSource) -> AddResult:
        return self.add_all([share], source)[0]

    def add_all(self, shares: Sequence[Share], source: ShareSource) -> list[AddResult]:
        """Add ``shares`` in order, with one durable write for every share that joined (a sync batch)."""
        now = int(self._clock())
        old_tip = self.chain.tip
        results = [self.chain.add(share, now=now) for share in shares]
        return self._settle(shares, results, source, old_tip)

    def add_context(self, shares: Sequence[Share], claims: Mapping[bytes, tuple[int, int]],
                    source: ShareSource) -> list[AddResult]:
        """Context shares of a join (below the floor: checked alone, their place taken from the plan)."""
        old_tip = self.chain.tip
        results: list[AddResult] = []
        try:
            for share in shares:
                results.append(self.chain.add_context(share, claims.get(share.hash)))  # noqa: PERF401 (what joined before a failure is kept)
        finally:  # a share without its claim stops the batch: what joined before it is still written
            self._settle(shares[: len(results)], results, source, old_tip)
        return results

    def reset(self) -> None:
        """Forget the whole sharechain, in memory and on disk (found blocks stay): a node far behind
        its peers joins again from a recent share."""
        self.chain.reset()
        self._store.clear_shares()

    def _settle(self, shares: Sequence[Share], results: list[AddResult], source: ShareSource,
                old_tip: ShareRecord | None) -> list[AddResult]:
        """One durable write for what joined and what was pruned, then the announcements."""
        accepted = [s for r in results if r.status is AddStatus.ADDED for s in r.accepted]
        pruned = [h for r in results for h in r.pruned]
        if accepted or pruned:
            records = [(s, record) for s in accepted if (record := self.chain.get(s.hash)) is not None]
            self._store.write(records, pruned, self.chain.horizon.floor, durable=source.kind is not SourceKind.SYNC)
        reorg = 0
        for share, result in zip(shares, results, strict=True):
            if result.status is AddStatus.ADDED:
                reorg = max(reorg, result.reorg_depth)
                if len(shares) == 1:
                    log.info("share %s from %s accepted at height %d (%d shares)", hash_to_hex(share.hash)[:16],
                             source.describe(), share.info.height, len(self.chain))
            elif result.status is AddStatus.INVALID:
                log.warning("share %s from %s refused: %s", hash_to_hex(share.hash)[:16], source.describe(),
                            result.error)
                assert result.rejection is not None
                self._publish(ShareRefused(share.hash, source, result.rejection, result.error or ""))
            for refusal in result.rejected:
                self._publish(ShareRefused(refusal.share_hash, source, refusal.rejection, refusal.detail))
        if reorg:
            log.warning("sharechain reorganised: %d shares left the main chain", reorg)
        if accepted:
            self._publish(SharesAccepted(tuple(accepted), source))
        tip = self.chain.tip
        if tip is not None and tip is not old_tip:
            self._publish(TipChanged(tip, reorg))
        return results
