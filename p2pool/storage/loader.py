"""Bringing a stored sharechain back: a fast trusted load, or a full reindex.

Both work on a pruned store, whose oldest shares have no parents any more: a load takes their
stored cumulative work, a reindex checks them as a joining node checks its context part (proof of
work, structure, commitment; :meth:`ShareChain.add_context`) and every share above them in full.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field
from pathlib import Path

import plyvel

from p2pool.storage.share_store import ShareStore, StoreError, repair
from sharechain.bitcoin.serialize import ParseError
from sharechain.chain import ShareChain
from sharechain.horizon import reach
from sharechain.params import NetworkParams
from sharechain.result import AddResult, AddStatus
from sharechain.share import Share

log = logging.getLogger("otedama.storage")
# Reindexing re-checks every rule but the clock: shares were accepted when they arrived.
_NO_CLOCK_LIMIT = 1 << 40


def load_chain(store: ShareStore, params: NetworkParams) -> ShareChain:
    """Index every stored record without re-checking proof of work (it was checked when written);
    shares the keep rule no longer needs (a store written before pruning) are deleted."""
    chain = ShareChain(params)
    # Hundreds of thousands of new objects: the cyclic collector would rescan them over and over
    # while they are created (none of them form cycles), tripling the load time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        pruned = chain.load(store.records(), store.floor())
    finally:
        if collecting:
            gc.enable()
    store.delete(pruned)
    tip = chain.tip
    if tip is not None and tip.height < chain.horizon.floor:
        # A join cut short before its context part was complete: nothing can be validated on it.
        log.warning("the share database holds an unfinished join (tip at height %d, below the floor %d); "
                    "starting over from the network", tip.height, chain.horizon.floor)
        store.clear_shares()
        return ShareChain(params)
    return chain


@dataclass
class ReindexReport:
    kept: int = 0
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (hash hex, reason)
    pruned: int = 0  # shares the keep rule no longer needs


def reindex(store: ShareStore, params: NetworkParams) -> tuple[ShareChain, ReindexReport]:
    """Rebuild the index by validating every stored share again; invalid or unreadable ones are dropped."""
    report = ReindexReport()
    shares: list[Share] = []
    dropped: list[bytes] = []
    for share_hash, raw in store.shares():
        try:
            shares.append(Share.parse(raw))
        except ParseError as exc:
            dropped.append(share_hash)
            report.dropped.append((share_hash.hex(), f"unreadable: {exc}"))
    shares.sort(key=lambda s: s.info.height)
    chain = ShareChain(params)
    pruned: list[bytes] = []

    def note(share: Share, result: AddResult) -> None:
        pruned.extend(result.pruned)
        for refusal in result.rejected:
            dropped.append(refusal.share_hash)
            report.dropped.append((refusal.share_hash.hex(), refusal.detail))
        if result.status is AddStatus.INVALID:
            dropped.append(share.hash)
            report.dropped.append((share.hash.hex(), result.error or "invalid"))

    lowest = shares[0].info.height if shares else 0
    context_top = -1
    if lowest > 0:  # a pruned store: its oldest shares are context, as for a joining node
        chain.begin_join(lowest)
        context_top = lowest + reach(params) - 1
    for share in shares:
        if share.info.height <= context_top:
            stored = store.get_record(share.hash)
            claim = (stored.chain_work, stored.main_work) if stored is not None else (0, 0)
            note(share, chain.add_context(share, claim))
        else:
            note(share, chain.add(share, now=_NO_CLOCK_LIMIT))
    kept = list(chain.records())
    report.kept = len(kept)
    report.pruned = len(pruned)
    store.replace_records(kept, dropped + pruned, chain.horizon.floor)
    return chain, report


def open_store(path: Path, params: NetworkParams, *, reindex_requested: bool) -> ShareStore:
    """Open the store; with ``reindex_requested`` first let LevelDB repair what it can."""
    if reindex_requested and path.exists():
        try:
            repair(path)
        except (plyvel.Error, OSError) as exc:
            raise StoreError(f"could not repair the share database at {path}: {exc}") from None
    return ShareStore(path, params, reindexing=reindex_requested)
