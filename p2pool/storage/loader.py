"""Bringing a stored sharechain back: a fast trusted load, or a full reindex."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path

import plyvel

from p2pool.storage.share_store import ShareStore, StoreError, repair
from sharechain.bitcoin.serialize import ParseError
from sharechain.chain import ShareChain
from sharechain.params import NetworkParams
from sharechain.result import AddStatus
from sharechain.share import Share

# Reindexing re-checks every rule but the clock: shares were accepted when they arrived.
_NO_CLOCK_LIMIT = 1 << 40


def load_chain(store: ShareStore, params: NetworkParams) -> ShareChain:
    """Index every stored record without re-checking proof of work (it was checked when written)."""
    chain = ShareChain(params)
    # Hundreds of thousands of new objects: the cyclic collector would rescan them over and over
    # while they are created (none of them form cycles), tripling the load time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        chain.load(store.records())
    finally:
        if collecting:
            gc.enable()
    return chain


@dataclass
class ReindexReport:
    kept: int = 0
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (hash hex, reason)


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
    chain = ShareChain(params)
    for share in sorted(shares, key=lambda s: s.info.height):
        result = chain.add(share, now=_NO_CLOCK_LIMIT)
        for refusal in result.rejected:
            dropped.append(refusal.share_hash)
            report.dropped.append((refusal.share_hash.hex(), refusal.detail))
        if result.status is AddStatus.INVALID:
            dropped.append(share.hash)
            report.dropped.append((share.hash.hex(), result.error or "invalid"))
    kept = [s for s in shares if s.hash in chain]
    report.kept = len(kept)
    store.replace_records(kept, dropped)
    return chain, report


def open_store(path: Path, params: NetworkParams, *, reindex_requested: bool) -> ShareStore:
    """Open the store; with ``reindex_requested`` first let LevelDB repair what it can."""
    if reindex_requested and path.exists():
        try:
            repair(path)
        except (plyvel.Error, OSError) as exc:
            raise StoreError(f"could not repair the share database at {path}: {exc}") from None
    return ShareStore(path, params)
