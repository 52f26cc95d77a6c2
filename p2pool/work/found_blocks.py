"""The blocks this node found: kept in the share database, listed by the API.

A block the database cannot take (a full disk) is still listed, kept in memory and written by
:meth:`FoundBlocks.flush` once the database takes writes again: it was delivered to the chain
backend before it was recorded, so a full disk never costs a block.
"""

from __future__ import annotations

import logging

from p2pool.events import FoundBlock, StoreWritable
from p2pool.storage.share_store import ShareStore, StoreWriteError

log = logging.getLogger("otedama.blocks")


class FoundBlocks:
    def __init__(self, store: ShareStore) -> None:
        self._store = store
        self._blocks = sorted((FoundBlock.from_dict(b) for b in store.blocks()), key=lambda b: (b.time, b.height))
        self.unwritten: list[FoundBlock] = []  # listed, but not on disk yet

    def __len__(self) -> int:
        return len(self._blocks)

    def record(self, block: FoundBlock) -> None:
        """Write ``block`` durably, then list it (listed anyway, and written later, if the write fails)."""
        self._blocks.append(block)
        self.unwritten.append(block)
        self.flush()

    def flush(self) -> None:
        """Write the blocks a failed write left in memory only."""
        while self.unwritten:
            block = self.unwritten[0]
            try:
                self._store.put_block(bytes.fromhex(block.hash)[::-1], block.as_dict())
            except StoreWriteError as exc:
                log.error("found block %s kept in memory only, written when the database can write: %s",
                          block.hash, exc)
                return
            self.unwritten.pop(0)

    def on_store_writable(self, event: StoreWritable) -> None:
        if event.recovered:
            self.flush()

    def recent(self, limit: int) -> list[FoundBlock]:
        return self._blocks[-limit:] if limit > 0 else []

    def all(self) -> list[FoundBlock]:
        return list(self._blocks)
