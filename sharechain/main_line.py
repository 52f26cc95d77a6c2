"""The main chain by height: the tip's ancestors, kept up to date cheaply as the tip moves."""

from __future__ import annotations

from collections.abc import Callable

from sharechain.record import ShareRecord


class MainLine:
    """Main-chain share hashes by height, from the oldest share held to the tip."""

    def __init__(self) -> None:
        self._hashes: list[bytes] = []
        self._base = 0  # height of _hashes[0]

    def __len__(self) -> int:
        return len(self._hashes)

    @property
    def base(self) -> int:
        return self._base

    @property
    def top(self) -> int:
        """Height of the tip (base - 1 when empty)."""
        return self._base + len(self._hashes) - 1

    def at(self, height: int) -> bytes | None:
        i = height - self._base
        return self._hashes[i] if 0 <= i < len(self._hashes) else None

    def heights(self, start: int, stop: int) -> list[bytes]:
        """Hashes at heights ``start`` .. ``stop - 1`` that exist."""
        lo, hi = max(start - self._base, 0), max(stop - self._base, 0)
        return self._hashes[lo:hi]

    def holds(self, record: ShareRecord) -> bool:
        return self.at(record.height) == record.hash

    def follow(self, tip: ShareRecord | None, get: Callable[[bytes], ShareRecord | None]) -> None:
        """Follow a new tip: append on extension, rewrite only the part a reorg replaced."""
        if tip is None:
            self._hashes, self._base = [], 0
            return
        if self._hashes and self._hashes[-1] == tip.hash:
            return
        new: list[bytes] = []
        record = tip
        while True:
            if self.at(record.height) == record.hash:
                del self._hashes[record.height - self._base + 1 :]
                break
            new.append(record.hash)
            parent = get(record.prev_hash)
            if parent is None:  # reached the oldest share: nothing in common with the old line
                self._hashes, self._base = [], record.height
                break
            record = parent
        self._hashes.extend(reversed(new))

    def trim(self, lowest: int) -> None:
        """Forget heights below ``lowest`` (they were pruned)."""
        if lowest > self._base:
            del self._hashes[: lowest - self._base]
            self._base = lowest
