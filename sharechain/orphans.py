"""Shares waiting for parents or uncles that have not arrived yet (bounded; oldest dropped first)."""

from __future__ import annotations

from collections import OrderedDict

from sharechain.share import Share

MAX_ORPHANS = 2000


class OrphanPool:
    def __init__(self, limit: int = MAX_ORPHANS) -> None:
        self.limit = limit
        self._shares: OrderedDict[bytes, tuple[Share, frozenset[bytes]]] = OrderedDict()
        self._waiting: dict[bytes, set[bytes]] = {}

    def __contains__(self, share_hash: bytes) -> bool:
        return share_hash in self._shares

    def __len__(self) -> int:
        return len(self._shares)

    def add(self, share: Share, missing: frozenset[bytes]) -> None:
        self.remove(share.hash)
        self._shares[share.hash] = (share, missing)
        for need in missing:
            self._waiting.setdefault(need, set()).add(share.hash)
        while len(self._shares) > self.limit:
            oldest = next(iter(self._shares))
            self.remove(oldest)

    def remove(self, share_hash: bytes) -> Share | None:
        entry = self._shares.pop(share_hash, None)
        if entry is None:
            return None
        share, missing = entry
        for need in missing:
            waiters = self._waiting.get(need)
            if waiters is not None:
                waiters.discard(share_hash)
                if not waiters:
                    del self._waiting[need]
        return share

    def prune(self, floor: int) -> None:
        """Drop orphans at or below ``floor``: their parents are below it, so they can never connect."""
        for share_hash in [h for h, (share, _) in self._shares.items() if share.info.height <= floor]:
            self.remove(share_hash)

    def waiting_for(self, share_hash: bytes) -> list[Share]:
        """Orphans that named ``share_hash`` as missing, in arrival order, taken out of the pool."""
        hashes = sorted(self._waiting.get(share_hash, ()), key=list(self._shares).index)
        return [share for h in hashes if (share := self.remove(h)) is not None]
