"""Writes a ban list behind its changes, from a worker thread, so no ban costs the event loop a write.

A list of 10,000 bans takes some 45 ms to encode and write (fsync included); written at each ban on the
event loop, as :class:`~p2pool.p2p.banlist.BanList` does by itself, strangers earning bans one after
another (an IP each, invalid work) would stall every miner and peer that long each time. Here the loop
only notes the change: the list is copied (the bans are immutable) and written in a thread, at most once
per ``every`` seconds, every change made meanwhile in the next write. A failed write (a full disk) is
tried again after ``retry`` seconds; the bans stay in force in memory all along. When the task ends what
is still pending is written at once, so a clean stop loses no ban; a crash loses at most the bans of
the last ``every`` seconds (an IP banned again when it comes back with invalid work).
"""

from __future__ import annotations

import trio

from p2pool.p2p.banlist import Ban, BanList, write_bans

WRITE_EVERY = 1.0
RETRY_AFTER = 5.0


class _Wakeup:
    """A flag the list raises on each change; waiting clears it."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        self._event = trio.Event()


def _try_write(bans: BanList, entries: list[Ban]) -> OSError | None:
    try:
        write_bans(bans.path, entries)
    except OSError as exc:
        return exc
    return None


async def write_behind(bans: BanList, *, every: float = WRITE_EVERY, retry: float = RETRY_AFTER,
                       task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Keep ``bans``'s file up to date until cancelled (see the module's description)."""
    wakeup = _Wakeup()
    bans.defer_writes(wakeup.set)
    task_status.started()
    try:
        while True:
            pending = bans.pending()
            if pending is None:
                await wakeup.wait()
                continue
            changes, entries = pending
            error = await trio.to_thread.run_sync(_try_write, bans, entries)
            bans.written(changes, error)
            await trio.sleep(every if error is None else retry)
    finally:
        bans.defer_writes(None)  # back to writing at once, and what is pending now
