"""The store's janitor: once enough pruned shares have been deleted, LevelDB's files are rewritten
without them (in a worker thread), so the disk really shrinks however long the node runs."""

from __future__ import annotations

import logging
import time

import trio

from p2pool.storage.share_store import ShareStore

log = logging.getLogger("otedama.storage")
# Pruned shares (each a share and its record) before a compaction: mainnet prunes one every 30 s.
COMPACT_AFTER = 1000


async def compact_when_due(store: ShareStore, *, every: float = 30.0, threshold: int = COMPACT_AFTER) -> None:
    """Every ``every`` seconds, compact the store if ``threshold`` shares were deleted since the last time."""
    while True:
        await trio.sleep(every)
        if store.deleted >= threshold:
            deleted, started = store.deleted, time.perf_counter()
            await trio.to_thread.run_sync(store.compact)
            log.info("share database compacted after %d pruned shares (%.2f s)", deleted,
                     time.perf_counter() - started)
