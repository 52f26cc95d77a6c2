"""One process per datadir: an exclusive ``flock`` on ``DATADIR/otedama.lock``, held while the node runs.

The lock file holds the holder's pid (for the message of whoever is refused). The kernel releases
the lock when the process ends, however it ends, so a ``kill -9`` never leaves a stale lock behind.
``otedama restore`` takes the same lock, so it cannot write into the datadir of a running node and no
node can start in a datadir while it is being restored.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Self

LOCK_FILE = "otedama.lock"


class DatadirInUse(RuntimeError):
    """Another process holds the datadir; the message names it and its pid."""


class DatadirLock:
    def __init__(self, datadir: Path, *, what: str = "otedama process") -> None:
        self.path = Path(datadir) / LOCK_FILE
        self._fd: int | None = None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DatadirInUse(f"datadir {datadir} is in use by another {what}"
                               + (f" (pid {holder})" if holder else "")) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def in_use(datadir: Path) -> str | None:
    """Who holds ``datadir`` (a sentence), or None when nobody does; takes and drops the lock to find out."""
    if not (Path(datadir) / LOCK_FILE).exists():
        return None
    try:
        DatadirLock(datadir).release()
    except DatadirInUse as exc:
        return str(exc)
    return None


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None
