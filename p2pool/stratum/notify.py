"""The new-work fan-out: every connection gets its job, in batches, so that the node answers submits
while it walks ten thousand connections (a trio adapter; the jobs themselves are the sessions')."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import trio
import trio.lowlevel

# Connections handled between two scheduling points: small enough that a submit waiting meanwhile is
# answered within a few milliseconds, large enough that the yields cost nothing measurable.
BATCH = 200

T = TypeVar("T")


async def in_batches(items: Iterable[T], visit: Callable[[T], None], batch: int = BATCH) -> int:
    """Call ``visit`` on each item, yielding to other tasks after every ``batch``; how many were visited.

    ``items`` is walked as a snapshot: an item that ``visit`` finds gone (closed meanwhile) is its to skip."""
    snapshot = list(items)
    for start in range(0, len(snapshot), batch):
        if start:
            await trio.lowlevel.checkpoint()
        for item in snapshot[start:start + batch]:
            visit(item)
    return len(snapshot)
