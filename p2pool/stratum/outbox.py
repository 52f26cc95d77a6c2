"""Bytes waiting to go to one Stratum connection (pure: no socket, no trio).

Replies and jobs are appended as they are made; the server writes everything waiting in one system call
when it can (one send per wake-up, not one per message). A connection whose waiting bytes pass
``limit`` is not reading: the server drops it.
"""

from __future__ import annotations

DEFAULT_LIMIT = 1 << 20


class Outbox:
    """Outgoing bytes of one connection, oldest first; ``draining`` while a task waits on a full socket."""

    __slots__ = ("_chunks", "_size", "draining", "limit")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self.limit = limit
        self.draining = False

    def __len__(self) -> int:
        return self._size

    def put(self, data: bytes) -> bool:
        """Queue ``data``; False once more than ``limit`` bytes wait (the peer does not read)."""
        if data:
            self._chunks.append(data)
            self._size += len(data)
        return self._size <= self.limit

    def take(self) -> bytes:
        """Everything waiting, as one piece; the outbox is empty afterwards."""
        chunks = self._chunks
        if not chunks:
            return b""
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        self._size = 0
        return data

    def put_back(self, rest: bytes) -> None:
        """Return the unsent end of what :meth:`take` gave, ahead of anything queued since."""
        if rest:
            self._chunks.insert(0, rest)
            self._size += len(rest)
