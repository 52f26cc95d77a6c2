"""What became of a share: on the main chain, paid as an uncle, or orphaned (neither).

A share at height h can only be included as an uncle by a share at heights h+1 .. h+uncle_depth, so
once the tip is ``uncle_depth`` above it, its fate no longer changes (short of a reorganisation
deeper than that). Pure: it reads the chain it is given.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from sharechain.chain import ShareChain
from sharechain.record import ShareRecord


class Fate(enum.Enum):
    MAIN = "main"
    UNCLE = "uncle"
    ORPHAN = "orphan"


def settled(chain: ShareChain, height: int) -> bool:
    """Whether a share at ``height`` has its final fate on the current main chain."""
    tip = chain.tip
    return tip is not None and tip.height - height >= chain.params.uncle_depth


def fates(chain: ShareChain, share_hashes: Iterable[bytes]) -> dict[bytes, Fate]:
    """The fates of those of ``share_hashes`` that are known and settled, in one walk down the main chain."""
    tip = chain.tip
    if tip is None:
        return {}
    ripe = tip.height - chain.params.uncle_depth  # :func:`settled`, for thousands at a time after a join's batch
    records = [r for h in share_hashes if (r := chain.get(h)) is not None and r.height <= ripe]
    if not records:
        return {}
    low = min(r.height for r in records)
    main: dict[int, ShareRecord] = {}
    for record in chain.ancestors(tip.hash):
        if record.height < low:
            break
        main[record.height] = record
    included = {uncle for record in main.values() for uncle in record.uncles}
    out: dict[bytes, Fate] = {}
    for record in records:
        on_main = main.get(record.height)
        if on_main is not None and on_main.hash == record.hash:
            out[record.hash] = Fate.MAIN
        else:
            out[record.hash] = Fate.UNCLE if record.hash in included else Fate.ORPHAN
    return out


def fate(chain: ShareChain, share_hash: bytes) -> Fate | None:
    """One share's fate on the current main chain; None while it is not settled (or not known)."""
    return fates(chain, (share_hash,)).get(share_hash)
