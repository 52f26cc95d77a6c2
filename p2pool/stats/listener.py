"""Feeds the node's events into its :class:`~p2pool.stats.collector.Statistics` and keeps them on disk.

The composition root subscribes the ``on_*`` methods and runs :meth:`StatsListener.run` (a flush every
few seconds; a last one on the way out), so statistics are present again after a restart. On a first
start (an empty database) the pool and per-address series are recomputed from the sharechain kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

import trio

from p2pool.events import (
    BlockFound,
    ShareRefused,
    SharesAccepted,
    SharesSettled,
    SourceKind,
    WorkerConnected,
    WorkerDisconnected,
)
from p2pool.stats.collector import RETENTION, AcceptedShare, Statistics
from p2pool.stats.store import StatsStore
from p2pool.write_failures import WriteFailures
from sharechain.bitcoin.address import script_to_address
from sharechain.bitcoin.hashing import hash_to_int
from sharechain.bitcoin.target import bits_to_target, work_from_target
from sharechain.params import NetworkParams
from sharechain.record import ShareRecord

log = logging.getLogger("otedama.stats")
FLUSH_SECONDS = 5.0


class StatsListener:
    def __init__(self, params: NetworkParams, store: StatsStore, clock: Callable[[], float]) -> None:
        self.params = params
        self.store = store
        self.clock = clock
        # Stratum's refused submits by reason since start (read at each flush; the difference is counted).
        self._rejects: Callable[[], Mapping[str, int]] | None = None
        self._rejects_seen: dict[str, int] = {}
        self._writes = WriteFailures(log, f"the statistics {store.path}", "they are kept in memory and written when "
                                     "they can be")
        now = self.now()
        self.stats = Statistics(now)
        stored = store.load(now - RETENTION)
        self.fresh = not stored.meta
        self.stats.load(stored)
        self.stats.prune(now)

    def now(self) -> int:
        return int(self.clock())

    def seed(self, records: Iterable[ShareRecord]) -> None:
        """A first start: the pool and per-address work of the shares the sharechain already has."""
        if not self.fresh:
            return
        shares = [AcceptedShare(self._address(r.payout_script), work_from_target(bits_to_target(r.share_bits)),
                                r.timestamp, local=False)
                  for r in records]
        now = self.now()
        kept = [s for s in shares if s.timestamp >= now - RETENTION]
        if kept:
            self.stats.begin_at(min(s.timestamp for s in kept))
            self.stats.record_accepted(now, kept, None)
        self.fresh = False

    # --- events ---------------------------------------------------------------------------------------
    def on_shares_accepted(self, event: SharesAccepted) -> None:
        local = event.source.kind is SourceKind.LOCAL
        worker = event.source.worker if local else None
        address, make = self._address, AcceptedShare
        shares = []
        for share in event.shares:
            info = share.info
            try:
                block = hash_to_int(share.hash) <= _target(share.header.bits)
            except ValueError:
                block = False
            shares.append(make(address(info.payout_script), _work(info.share_bits), info.timestamp, local, worker,
                               block))
        self.stats.record_accepted(self.now(), shares, event.source.kind.value)

    def on_share_refused(self, event: ShareRefused) -> None:
        self.stats.record_refused(event.rejection.value)

    def on_shares_settled(self, event: SharesSettled) -> None:
        """Shares' fates are final: counted by fate, for every share and for our miners' (once per fate
        and event: a join settles thousands at a time)."""
        counts: dict[tuple[str, bool], int] = {}
        for settled in event.settled:
            key = (settled.fate.value, settled.source.kind is SourceKind.LOCAL)
            counts[key] = counts.get(key, 0) + 1
        for (fate, local), shares in sorted(counts.items()):
            self.stats.record_classified(fate, local, shares)

    def on_block_found(self, event: BlockFound) -> None:
        self.stats.record_block(event.block.time)

    def on_worker_connected(self, event: WorkerConnected) -> None:
        self.stats.worker_connected(self.now(), event.worker, event.address)

    def on_worker_disconnected(self, event: WorkerDisconnected) -> None:
        self.stats.worker_disconnected(self.now(), event.worker)

    # --- disk ------------------------------------------------------------------------------------------
    def sample_rejects(self) -> None:
        """Count the Stratum rejects since the last look (they are counted in the Stratum server)."""
        if self._rejects is None:
            return
        for reason, total in self._rejects().items():
            new = total - self._rejects_seen.get(reason, 0)
            if new > 0:
                self.stats.count("rejected", reason, new)
            self._rejects_seen[reason] = total

    def flush(self) -> None:
        self.sample_rejects()
        now = self.now()
        self.stats.prune(now)
        changes = self.stats.take_changes()
        try:
            self.store.save(changes)
            self.store.prune(now - RETENTION)
        except Exception as exc:  # statistics are not worth stopping the node for; they are kept for the next try
            self.stats.give_back(changes)
            self._writes.failed(exc)
            return
        self._writes.succeeded()

    @property
    def write_error(self) -> str | None:
        """Why the last flush could not write (None while writes succeed)."""
        return self._writes.error

    async def run(self, rejects: Callable[[], Mapping[str, int]] | None = None,
                  interval: float = FLUSH_SECONDS) -> None:
        """Flush every ``interval`` seconds until cancelled, and once more then. ``rejects``: the Stratum
        server's refused submits by reason since it started."""
        self._rejects = rejects
        try:
            while True:
                await trio.sleep(interval)
                self.flush()
        finally:
            self.flush()

    def _address(self, script: bytes) -> str:
        return _script_address(script, self.params.address_format)


# Pure and called for every accepted share (thousands a second in a sync): a few payout scripts and
# share targets account for nearly all of them.
_script_address = lru_cache(maxsize=4096)(script_to_address)
_target = lru_cache(maxsize=256)(bits_to_target)


@lru_cache(maxsize=256)
def _work(bits: int) -> int:
    return work_from_target(_target(bits))
