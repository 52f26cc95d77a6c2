"""One task that closes every Stratum connection past its deadline, instead of a timer per connection.

Every ``interval`` seconds it walks the open connections (a slice at a time, yielding between slices, so
10,000 connections never hold the loop), asks :func:`~p2pool.stratum.limits.overdue` about each and
whether its IP was banned since it connected, and closes the ones that must go in batches, yielding
between batches: 5,000 connections closed at once do not stall the miners that stay.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

import trio

from p2pool.stratum.limits import Refusal, StratumLimits, overdue

SLICE = 512  # connections looked at between two yields
CLOSE_SLICE = 64  # connections closed between two yields (each then unwinds its tasks in the next round)


class Sweepable(Protocol):
    """What the sweeper needs of a connection."""

    ip: str

    @property
    def opened(self) -> float: ...

    @property
    def last_active(self) -> float: ...

    @property
    def authorized(self) -> bool: ...

    @property
    def waiting(self) -> bool: ...

    def close(self, reason: Refusal) -> None: ...


def sweep_interval(limits: StratumLimits) -> float:
    """Deadlines are kept to within a quarter of the shorter one (at least every 50 ms, at most every 5 s)."""
    return min(5.0, max(0.05, min(limits.auth_timeout, limits.idle_timeout) / 4))


async def sweep_forever(connections: Callable[[], Collection[Sweepable]], limits: StratumLimits,
                        banned: Callable[[str], bool]) -> None:
    """Close overdue connections until cancelled."""
    interval = sweep_interval(limits)
    while True:
        await trio.sleep(interval)
        await sweep_once(list(connections()), limits, banned)


async def sweep_once(connections: list[Sweepable], limits: StratumLimits, banned: Callable[[str], bool]) -> int:
    """Close those of ``connections`` that are overdue or banned; how many."""
    doomed: list[tuple[Sweepable, Refusal]] = []
    bans: dict[str, bool] = {}
    for start in range(0, len(connections), SLICE):
        now = trio.current_time()
        for conn in connections[start:start + SLICE]:
            reason = overdue(conn.opened, conn.last_active, conn.authorized, now, limits, conn.waiting)
            if reason is None:
                if conn.ip not in bans:
                    bans[conn.ip] = banned(conn.ip)
                reason = Refusal.BANNED if bans[conn.ip] else None
            if reason is not None:
                doomed.append((conn, reason))
        await trio.lowlevel.checkpoint()
    for start in range(0, len(doomed), CLOSE_SLICE):
        for conn, reason in doomed[start:start + CLOSE_SLICE]:
            conn.close(reason)
        await trio.lowlevel.checkpoint()
    return len(doomed)
