"""Banned peers, kept in a JSON file so bans survive restarts.

Times are wall-clock epoch seconds passed by the caller. Every change is written atomically (temporary
file, fsync, ``os.replace``, fsync of the directory), so a crash leaves the old or the new list, never a
torn one: at once by default, or, once the owner calls :meth:`BanList.defer_writes`, behind the changes by
a writer of its own (:func:`p2pool.p2p.ban_writer.write_behind`: in a worker thread, many changes in one
write), because a list of 10,000 bans takes some 45 ms to encode and write, which strangers earning bans
one after another must not take from everyone else's event loop. A file that is damaged or not an Otedama ban list is refused with
:class:`BanListError` naming the path (it is not moved aside or overwritten: the operator decides).
Expired bans are dropped by :meth:`BanList.prune` (which :meth:`BanList.active` calls) and on the next
write; :meth:`BanList.is_banned` only reads. A write that fails (a full disk) is logged once, the bans
stay in force in memory, and every later change or prune writes the whole list again until one succeeds.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from p2pool.write_failures import WriteFailures

log = logging.getLogger("otedama.bans")
FORMAT = "otedama-banlist"
FORMAT_VERSION = 1
DEFAULT_MAX_BANS = 10_000


class BanListError(RuntimeError):
    """The ban list file cannot be used as it is; the message names the path and a way out."""


@dataclass(frozen=True)
class Ban:
    """``peer`` is banned until ``until`` (epoch seconds) for ``reason``."""

    peer: str
    until: float
    reason: str


class BanList:
    """Peer bans by peer ID, persisted in ``path``; at most ``max_bans`` (the soonest to expire go first, but
    never the ban just made: the stranger banned now is the one at the door, even when every listed ban
    lasts longer, as repeat offenders' do beside a first offence)."""

    def __init__(self, path: Path, *, max_bans: int = DEFAULT_MAX_BANS) -> None:
        if max_bans < 1:
            raise ValueError("max_bans must be at least 1")
        self.path = Path(path)
        self.max_bans = max_bans
        self._bans: dict[str, Ban] = self._load()
        # (until, peer) of every ban, soonest first, to find the one to drop from a full list without a walk
        # over all of them at each ban (2.5 ms at 10,000); entries of bans lifted or lengthened since stay
        # until popped (skipped) or the heap is rebuilt, once it holds twice the bans.
        self._expiry: list[tuple[float, str]] = []
        self._rebuild_expiry()
        self._writes = WriteFailures(log, f"the ban list {self.path}",
                                     "the bans stay in force and are written when it can be")
        self._changes = 0  # changes made since opening
        self._written = 0  # the changes the file holds
        self._on_change: Callable[[], None] | None = None  # set: writes are deferred to its owner

    def __len__(self) -> int:
        return len(self._bans)

    @property
    def write_error(self) -> str | None:
        """Why the list in memory is not on disk (None when it is): the last write failed."""
        return self._writes.error

    def ban(self, peer: str, until: float, reason: str) -> None:
        """Ban ``peer`` until ``until``; an existing longer ban is kept. Written before returning."""
        _check_ban(Ban(peer, until, reason))
        current = self._bans.get(peer)
        if current is not None and current.until >= until:
            return
        self._bans[peer] = Ban(peer, float(until), reason)
        if len(self._bans) > self.max_bans:
            self._drop_soonest()  # (before the new ban's entry goes in: never the new ban)
        heapq.heappush(self._expiry, (float(until), peer))
        if len(self._expiry) > 2 * len(self._bans) + 64:
            self._rebuild_expiry()
        self._save()

    def _drop_soonest(self) -> None:
        while True:
            until, peer = heapq.heappop(self._expiry)
            ban = self._bans.get(peer)
            if ban is not None and ban.until == until:
                del self._bans[peer]
                return

    def _rebuild_expiry(self) -> None:
        self._expiry = [(ban.until, ban.peer) for ban in self._bans.values()]
        heapq.heapify(self._expiry)

    def unban(self, peer: str) -> None:
        """Lift the ban on ``peer`` (nothing happens if it is not banned)."""
        if self._bans.pop(peer, None) is not None:
            self._save()

    def is_banned(self, peer: str, now: float) -> bool:
        """Whether ``peer`` is banned at ``now``."""
        ban = self._bans.get(peer)
        return ban is not None and ban.until > now

    def get(self, peer: str, now: float) -> Ban | None:
        """The ban on ``peer`` in force at ``now``, if any."""
        ban = self._bans.get(peer)
        return ban if ban is not None and ban.until > now else None

    def active(self, now: float) -> list[Ban]:
        """The bans in force at ``now``, soonest to expire first (expired ones are pruned)."""
        self.prune(now)
        return sorted(self._bans.values(), key=lambda ban: (ban.until, ban.peer))

    def reload(self) -> int:
        """Read the file again (an operator edited it; SIGHUP); returns the bans listed. A damaged file raises
        :class:`BanListError` and the bans in memory stay as they were."""
        self._bans = self._load()
        self._rebuild_expiry()
        return len(self._bans)

    def prune(self, now: float) -> int:
        """Drop the bans expired at ``now`` and write the list if any were; how many were dropped."""
        expired = [peer for peer, ban in self._bans.items() if ban.until <= now]
        for peer in expired:
            del self._bans[peer]
        if expired or self.write_error is not None:
            self._save()
        return len(expired)

    def _load(self) -> dict[str, Ban]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise BanListError(f"cannot read the ban list {self.path}: {exc}") from None
        try:
            document = json.loads(raw)
            bans = _parse(document)
        except (ValueError, TypeError, KeyError) as exc:
            raise BanListError(f"ban list {self.path} is damaged or not an Otedama ban list ({exc}); "
                               "move it away or delete it to start with no bans") from None
        merged: dict[str, Ban] = {}
        for ban in bans:  # a peer listed twice keeps its longer ban
            if ban.peer not in merged or merged[ban.peer].until < ban.until:
                merged[ban.peer] = ban
        return merged

    # -- writing -------------------------------------------------------------------------------

    def defer_writes(self, on_change: Callable[[], None] | None) -> None:
        """From now on, tell ``on_change`` of each change instead of writing it: the caller writes
        :meth:`pending` and reports with :meth:`written`. ``None`` goes back to writing at once, and writes
        what is pending now."""
        self._on_change = on_change
        if self.pending() is not None:
            if on_change is None:
                self._write_now()
            else:
                on_change()

    def pending(self) -> tuple[int, list[Ban]] | None:
        """The changes the file does not hold yet (a count to give :meth:`written`, and the bans as they are
        now), or ``None`` when it holds them all."""
        if self._written == self._changes:
            return None
        return self._changes, list(self._bans.values())

    def written(self, changes: int, error: OSError | None) -> None:
        """A write of :meth:`pending`'s ``changes`` succeeded (``error`` None) or failed (logged once; the
        changes stay pending)."""
        if error is not None:
            self._writes.failed(error)
            return
        self._written = max(self._written, changes)
        self._writes.succeeded()

    def _save(self) -> None:
        self._changes += 1
        if self._on_change is not None:
            self._on_change()
        else:
            self._write_now()

    def _write_now(self) -> None:
        changes, bans = self._changes, list(self._bans.values())
        try:
            write_bans(self.path, bans)
        except OSError as exc:
            self.written(changes, exc)
        else:
            self.written(changes, None)


def encode_bans(bans: list[Ban]) -> bytes:
    """The ban list file's bytes for ``bans``."""
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "bans": [{"peer": b.peer, "until": b.until, "reason": b.reason} for b in bans],
    }
    return json.dumps(document, indent=1, sort_keys=True).encode()


def write_bans(path: Path, bans: list[Ban]) -> None:
    """Replace the ban list file ``path`` with ``bans`` (atomically; raises OSError). Touches nothing
    else, so a worker thread may run it on a list taken with :meth:`BanList.pending`."""
    _write_atomically(path, encode_bans(bans))


def _parse(document: object) -> list[Ban]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"no format marker {FORMAT!r}")
    if document.get("version") != FORMAT_VERSION:
        raise ValueError(f"format version {document.get('version')!r}, this version reads {FORMAT_VERSION}")
    entries = document["bans"]
    if not isinstance(entries, list):
        raise TypeError("'bans' is not a list")
    bans: list[Ban] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise TypeError(f"ban entry {entry!r} is not an object")
        ban = Ban(entry["peer"], entry["until"], entry["reason"])
        _check_ban(ban)
        bans.append(Ban(ban.peer, float(ban.until), ban.reason))
    return bans


def _check_ban(ban: Ban) -> None:
    if not isinstance(ban.peer, str) or not ban.peer:
        raise ValueError(f"peer must be a non-empty string, got {ban.peer!r}")
    if isinstance(ban.until, bool) or not isinstance(ban.until, (int, float)) or not math.isfinite(ban.until):
        raise ValueError(f"until must be a finite number of seconds, got {ban.until!r}")
    if not isinstance(ban.reason, str):
        raise TypeError(f"reason must be a string, got {ban.reason!r}")


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)

