"""The blocks this node found: kept in the share database, listed by the API."""

from __future__ import annotations

from p2pool.events import FoundBlock
from p2pool.storage.share_store import ShareStore


class FoundBlocks:
    def __init__(self, store: ShareStore) -> None:
        self._store = store
        self._blocks = sorted((FoundBlock.from_dict(b) for b in store.blocks()), key=lambda b: (b.time, b.height))

    def __len__(self) -> int:
        return len(self._blocks)

    def record(self, block: FoundBlock) -> None:
        """Write ``block`` durably, then list it."""
        self._store.put_block(bytes.fromhex(block.hash)[::-1], block.as_dict())
        self._blocks.append(block)

    def recent(self, limit: int) -> list[FoundBlock]:
        return self._blocks[-limit:] if limit > 0 else []

    def all(self) -> list[FoundBlock]:
        return list(self._blocks)
