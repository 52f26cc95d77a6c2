"""Share intake: the one way a share joins the node's sharechain, whoever found it.

``chain.add`` validates and connects, the accepted shares are written durably, and only then are
they announced (:class:`~p2pool.events.SharesAccepted`, :class:`~p2pool.events.TipChanged`), so
nothing is ever gossiped or paid that a crash could lose. Refusals are announced too
(:class:`~p2pool.events.ShareRefused`); what a refusal costs a peer is the P2P layer's decision.

A write that fails (a full disk) raises :class:`~p2pool.storage.share_store.StoreWriteError` to the
caller: the sharechain in memory is loaded back from the database, so it holds exactly what is on
disk, nothing is announced, and every share is refused the same way until :meth:`ShareIntake.recover`
finds the database writable again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from p2pool.events import ShareRefused, SharesAccepted, ShareSource, SourceKind, StoreWritable, TipChanged
from p2pool.storage.share_store import ShareStore, StoreWriteError
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.chain import ShareChain
from sharechain.record import ShareRecord
from sharechain.result import AddResult, AddStatus
from sharechain.share import Share
from sharechain.validation import StandaloneVerdict

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

    @property
    def unwritable(self) -> str | None:
        """Why the share database takes no writes (None: it does)."""
        return self._store.write_error

    def add_all(self, shares: Sequence[Share], source: ShareSource,
                checked: Sequence[StandaloneVerdict | None] | None = None) -> list[AddResult]:
        """Add ``shares`` in order, with one durable write for every share that joined (a sync batch).
        ``checked``: each share's verdict from a join's checking process, where it has one."""
        self._check_writable()
        now = int(self._clock())
        old_tip = self.chain.tip
        if checked is None:
            results = [self.chain.add(share, now=now) for share in shares]
        else:
            results = [self.chain.add(share, now, verdict) for share, verdict in zip(shares, checked, strict=True)]
        return self._settle(shares, results, source, old_tip)

    def add_context(self, shares: Sequence[Share], claims: Mapping[bytes, tuple[int, int]],
                    source: ShareSource, checked: Sequence[StandaloneVerdict | None] | None = None) -> list[AddResult]:
        """Context shares of a join (below the floor: checked alone, their place taken from the plan)."""
        self._check_writable()
        old_tip = self.chain.tip
        results: list[AddResult] = []
        verdicts = checked if checked is not None else [None] * len(shares)
        try:
            for share, verdict in zip(shares, verdicts, strict=True):
                results.append(self.chain.add_context(share, claims.get(share.hash), verdict))  # (kept up to a failure)
        finally:  # a share without its claim stops the batch: what joined before it is still written
            self._settle(shares[: len(results)], results, source, old_tip)
        return results

    def reset(self) -> None:
        """Forget the whole sharechain, in memory and on disk (found blocks stay): a node far behind
        its peers joins again from a recent share."""
        self._check_writable()
        self.chain.reset()
        try:
            self._store.clear_shares()
        except StoreWriteError as exc:
            self._failed(exc)
            raise

    def recover(self) -> bool:
        """Try the database again after a failed write; True (and the chain loaded back, announced as
        :class:`StoreWritable`) once it takes writes. A reopened database holds what reached its disk."""
        if self._store.write_error is None:
            return True
        if not self._store.recover():
            return False
        try:
            self._store.delete(self._reload())
            tip = self.chain.tip
            if tip is not None and tip.height < self.chain.horizon.floor:  # a join the failure cut short
                log.warning("the share database holds an unfinished join: starting over from the network")
                self.chain.reset()
                self._store.clear_shares()
        except StoreWriteError as exc:  # full again at once
            self._failed(exc)
            return False
        log.warning("share database writable again: accepting shares (sharechain at %d shares)", len(self.chain))
        self._publish(StoreWritable(True))
        return True

    def _check_writable(self) -> None:
        if self._store.write_error is not None:
            raise StoreWriteError(f"share database at {self._store.path} is not writable: {self._store.write_error}")

    def _failed(self, exc: StoreWriteError) -> None:
        """After a write that failed: the chain in memory back to what the disk holds, and the news."""
        self._reload()
        log.error("%s; refusing new shares until it can write again (the sharechain stays at %d shares)", exc,
                  len(self.chain))
        self._publish(StoreWritable(False, self._store.write_error or str(exc)))

    def _reload(self) -> tuple[bytes, ...]:
        """The chain in memory loaded again from the database; returns what the keep rule prunes of it
        (still on disk: a restart's load deletes it otherwise)."""
        self.chain.reset()
        return self.chain.load(self._store.records(), self._store.floor())

    def _settle(self, shares: Sequence[Share], results: list[AddResult], source: ShareSource,
                old_tip: ShareRecord | None) -> list[AddResult]:
        """One durable write for what joined and what was pruned, then the announcements."""
        accepted = [s for r in results if r.status is AddStatus.ADDED for s in r.accepted]
        pruned = [h for r in results for h in r.pruned]
        if accepted or pruned:
            records = [(s, record) for s in accepted if (record := self.chain.get(s.hash)) is not None]
            try:
                self._store.write(records, pruned, self.chain.horizon.floor,
                                  durable=source.kind is not SourceKind.SYNC)
            except StoreWriteError as exc:
                self._failed(exc)
                raise
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
            # A sync brings side shares before the shares that take them as uncles: a reorganisation one
            # share deep is routine there (a join has hundreds), news elsewhere.
            level = logging.INFO if source.kind is SourceKind.SYNC and reorg == 1 else logging.WARNING
            log.log(level, "sharechain reorganised: %d shares left the main chain", reorg)
        if accepted:
            self._publish(SharesAccepted(tuple(accepted), source))
        tip = self.chain.tip
        if tip is not None and tip is not old_tip:
            self._publish(TipChanged(tip, reorg))
        return results
