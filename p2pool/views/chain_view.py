"""The sharechain as the API shows it: recent shares main and side, each one's status, and what the
PPLNS window is made of. Pure: reads a :class:`~sharechain.chain.ShareChain`, changes nothing.

Status of a share: ``main`` (on the best chain), ``uncle`` (a side share a main-chain share includes),
``side`` (not included yet, still within the uncle depth of the tip) or ``orphan`` (in neither, and too
deep to be included any more).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sharechain.bitcoin.address import script_to_address
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.bitcoin.target import DIFF1_TARGET
from sharechain.chain import ShareChain
from sharechain.record import ShareRecord

MAX_PAGE = 500


@dataclass(frozen=True)
class Composition:
    """What the last ``window`` main-chain shares are made of (orphans: side shares of those heights
    that no share includes and none can any more)."""

    main: int
    uncles: int
    side: int
    orphans: int
    main_work: int
    uncle_work: int
    orphan_work: int


class ChainView:
    def __init__(self, chain: ShareChain) -> None:
        self.chain = chain
        self.params = chain.params
        self._cache_key: tuple[bytes | None, int] | None = None
        self._ordered: list[ShareRecord] = []
        self._status: dict[bytes, str] = {}
        self._included_by: dict[bytes, bytes] = {}

    def address(self, script: bytes) -> str:
        return script_to_address(script, self.params.address_format)

    # --- what each share is ------------------------------------------------------------------------
    def _refresh(self) -> None:
        tip = self.chain.tip
        key = (tip.hash if tip else None, len(self.chain))
        if key == self._cache_key:
            return
        self._cache_key = key
        self._ordered = sorted(self.chain.records(), key=lambda r: (-r.height, r.hash))
        main = {r.hash for r in self.chain.ancestors(tip.hash)} if tip else set()
        self._included_by = {uncle: r.hash for r in self._ordered if r.hash in main for uncle in r.uncles}
        top = tip.height if tip else 0
        depth = self.params.uncle_depth
        self._status = {r.hash: "main" if r.hash in main else "uncle" if r.hash in self._included_by
                        else "side" if r.height > top - depth else "orphan" for r in self._ordered}

    def arrival_status(self, share_hash: bytes) -> str | None:
        """A share just accepted: ``main`` if the best chain holds it, else ``side`` (nothing includes it
        yet). Constant time, unlike :meth:`status`, which places every share kept (the live feed asks
        this once per accepted batch; a join accepts tens of thousands of shares in batches)."""
        record = self.chain.get(share_hash)
        if record is None:
            return None
        return "main" if self.chain.main_line.holds(record) else "side"

    def status(self, share_hash: bytes) -> str | None:
        self._refresh()
        return self._status.get(share_hash)

    def share(self, record: ShareRecord) -> dict[str, object]:
        """One share as a list entry."""
        self._refresh()
        included = self._included_by.get(record.hash)
        return {"hash": hash_to_hex(record.hash), "height": record.height, "timestamp": record.timestamp,
                "address": self.address(record.payout_script), "difficulty": DIFF1_TARGET / max(1, record.target),
                "work": record.work, "status": self._status.get(record.hash, "side"),
                "uncles": [hash_to_hex(u) for u in record.uncles],
                "included_by": hash_to_hex(included) if included else None}

    def page(self, limit: int, before: tuple[int, bytes] | None, status: str | None = None,
             address: str | None = None) -> tuple[list[ShareRecord], tuple[int, bytes] | None]:
        """Shares newest first (height down, then hash), after the cursor ``before`` (height, hash);
        the cursor of the next page, or None at the end."""
        self._refresh()
        limit = max(1, min(limit, MAX_PAGE))
        out: list[ShareRecord] = []
        for record in self._ordered:
            if before is not None and (-record.height, record.hash) <= (-before[0], before[1]):
                continue
            if status is not None and self._status.get(record.hash) != status:
                continue
            if address is not None and self.address(record.payout_script) != address:
                continue
            if len(out) == limit:
                last = out[-1]
                return out, (last.height, last.hash)
            out.append(record)
        return out, None

    # --- the window -----------------------------------------------------------------------------------
    def window(self) -> list[ShareRecord]:
        """The main-chain shares of the PPLNS window ending at the tip, newest first."""
        return self.chain.main_chain(self.params.pplns_window)

    def composition(self, address: str | None = None) -> Composition:
        """What the window is made of (for one payout ``address``, or everyone)."""
        self._refresh()
        window = self.window()
        if not window:
            return Composition(0, 0, 0, 0, 0, 0, 0)
        lowest = window[-1].height

        def mine(record: ShareRecord) -> bool:
            return address is None or self.address(record.payout_script) == address

        main = [r for r in window if mine(r)]
        uncles = [u for r in window for u in _records(self.chain, r.uncles) if mine(u)]
        side = [r for r in self._ordered if r.height >= lowest and self._status.get(r.hash) in ("side", "orphan")
                and mine(r)]
        orphans = [r for r in side if self._status.get(r.hash) == "orphan"]
        return Composition(len(main), len(uncles), len(side) - len(orphans), len(orphans),
                           sum(r.work for r in main), sum(r.work for r in uncles), sum(r.work for r in orphans))


def _records(chain: ShareChain, hashes: Iterable[bytes]) -> list[ShareRecord]:
    return [r for r in (chain.get(h) for h in hashes) if r is not None]
