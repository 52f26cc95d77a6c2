"""Reading thousands of plain TCP connections from one task (a trio adapter, Linux epoll).

The sockets are in an epoll set of their own, and trio waits on that set's descriptor: one wake-up
reads every connection that has data, without a task, a cancel scope and a trio registration per
connection. A connection's bytes go to the server's ``received`` callback as they come (``b""``: the
miner closed it).
"""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Callable
from typing import Generic, TypeVar

import trio

C = TypeVar("C")
# Connections read between two scheduling points (the fan-out and other tasks run in between); a connection
# that closed counts as CLOSE_COST reads (its release, log line and events cost about that much more: 5,000
# miners leaving at once otherwise held the loop for 100+ ms a batch).
BATCH = 256
CLOSE_COST = 8
_EVENTS = select.EPOLLIN | select.EPOLLRDHUP


class ReadHub(Generic[C]):
    """The connections being read, by descriptor; :meth:`run` reads them until cancelled."""

    def __init__(self, read_size: int) -> None:
        self._epoll: select.epoll | None = None  # opened by the first connection or run, closed when run ends
        self._conns: dict[int, C] = {}
        self._read_size = read_size

    def _set(self) -> select.epoll:
        if self._epoll is None:
            self._epoll = select.epoll()
        return self._epoll

    def __len__(self) -> int:
        return len(self._conns)

    def add(self, fd: int, conn: C) -> None:
        self._set().register(fd, _EVENTS)
        self._conns[fd] = conn

    def remove(self, fd: int) -> None:
        """Stop reading ``fd`` (before it is closed: a closed descriptor's number is soon reused)."""
        if self._conns.pop(fd, None) is not None and self._epoll is not None:
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(fd)

    async def run(self, received: Callable[[C, bytes], None]) -> None:
        epoll, conns, size = self._set(), self._conns, self._read_size
        try:
            while True:
                await trio.lowlevel.wait_readable(epoll.fileno())
                events = epoll.poll(0, 4 * BATCH)
                done = 0
                for fd, _ in events:
                    conn = conns.get(fd)  # (a connection closed meanwhile is gone; a new one may have its fd)
                    if conn is None:
                        continue
                    try:
                        data = os.read(fd, size)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""  # reset by the peer: as closed
                    received(conn, data)
                    done += 1 if data else CLOSE_COST
                    if done >= BATCH:
                        done = 0
                        await trio.lowlevel.checkpoint()
        finally:
            self._epoll = None
            epoll.close()
