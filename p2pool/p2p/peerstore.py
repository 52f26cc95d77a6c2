"""The address book: peers this node has heard of, their addresses and how dialling them went (SQLite).

Addresses are stored and returned as full multiaddrs ending in ``/p2p/<peer id>`` (what
``--bootstrap`` takes and libp2p dials). :meth:`AddressBook.add` accepts an address with that ending,
which must name the same peer, or without it, and appends it. Peer IDs are base58 as libp2p prints
them. Times are wall-clock epoch seconds passed by the caller. After ``n`` failed dials in a row a
peer is not offered again before ``base_backoff * 2**(n-1)`` seconds (at most ``max_backoff``).
The book holds at most ``max_peers`` peers; past that the worst go first: peers that failed
``max_failures`` times in a row, then peers never connected, then the rest, each by most failures,
then longest unseen. A damaged or foreign database file is refused with :class:`PeerStoreError`.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import multiaddr.exceptions
from multiaddr import Multiaddr

from p2pool.write_failures import WriteFailures

log = logging.getLogger("otedama.p2p")

FORMAT = "otedama-peerstore"
FORMAT_VERSION = "1"
MAX_ADDR_LENGTH = 512
_TRANSPORTS = frozenset({"ip4", "ip6", "dns", "dns4", "dns6", "dnsaddr"})

_SCHEMA = f"""
BEGIN;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE peers (
    peer TEXT PRIMARY KEY, source TEXT NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    last_connected REAL, last_failed REAL, failures INTEGER NOT NULL DEFAULT 0);
CREATE TABLE addrs (
    peer TEXT NOT NULL, addr TEXT NOT NULL, last_seen REAL NOT NULL, PRIMARY KEY (peer, addr));
INSERT INTO meta (key, value) VALUES ('format', '{FORMAT}'), ('version', '{FORMAT_VERSION}');
COMMIT;
"""


class AddressError(ValueError):
    """A peer ID or address that is not acceptable; the message says which and why."""


class PeerStoreError(RuntimeError):
    """The address book file cannot be used as it is; the message names the path and a way out."""


@dataclass(frozen=True)
class AddressBookConfig:
    """Size limits and dial back-off (seconds)."""

    max_peers: int = 2_000
    max_addrs_per_peer: int = 8
    base_backoff: float = 10.0
    max_backoff: float = 3_600.0
    max_failures: int = 10

    def __post_init__(self) -> None:
        if self.max_peers < 1 or self.max_addrs_per_peer < 1 or self.max_failures < 1:
            raise ValueError("max_peers, max_addrs_per_peer and max_failures must be at least 1")
        if not 0 < self.base_backoff <= self.max_backoff:
            raise ValueError("need 0 < base_backoff <= max_backoff")

    def backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed dials in a row before dialling again."""
        if failures <= 0:
            return 0.0
        return min(self.max_backoff, self.base_backoff * 2.0 ** min(failures - 1, 64))


@dataclass(frozen=True)
class PeerRecord:
    """What the book knows about one peer (times in epoch seconds; None: never)."""

    peer: str
    addrs: list[str]
    source: str
    first_seen: float
    last_seen: float
    last_connected: float | None
    last_failed: float | None
    failures: int


def check_peer_id(peer: str) -> None:
    """Raise :class:`AddressError` unless ``peer`` is a peer ID in libp2p's base58 form."""
    if not isinstance(peer, str) or not peer or "/" in peer:
        raise AddressError(f"peer ID {peer!r} is not a base58 peer ID")
    try:
        canonical = Multiaddr("/p2p/" + peer).value_for_protocol("p2p")
    except (ValueError, multiaddr.exceptions.Error) as exc:
        raise AddressError(f"peer ID {peer!r} is not a valid peer ID: {exc}") from None
    if canonical != peer:
        raise AddressError(f"peer ID {peer!r} is not in base58 form (that is {canonical})")


def normalize_addr(peer: str, addr: str) -> str:
    """The full multiaddr ``.../p2p/<peer>`` for ``addr``; :class:`AddressError` if it is unusable."""
    if not isinstance(addr, str) or not addr or len(addr) > MAX_ADDR_LENGTH:
        raise AddressError(f"address {addr!r} is not a multiaddr string of at most {MAX_ADDR_LENGTH} chars")
    try:
        parts = list(Multiaddr(addr).items())
    except (ValueError, TypeError, multiaddr.exceptions.Error) as exc:
        raise AddressError(f"address {addr!r} is not a valid multiaddr: {exc}") from None
    if not parts or parts[0][0].name not in _TRANSPORTS:
        raise AddressError(f"address {addr!r} does not start with one of {', '.join(sorted(_TRANSPORTS))}")
    full = Multiaddr(addr)
    if parts[-1][0].name == "p2p":
        if parts[-1][1] != peer:
            raise AddressError(f"address {addr!r} names peer {parts[-1][1]}, not {peer}")
    else:
        full = full.encapsulate(Multiaddr("/p2p/" + peer))
    return str(full)


class AddressBook:
    """Known peers and their addresses in an SQLite file; survives restarts. Use from one thread at a time."""

    def __init__(self, path: Path, config: AddressBookConfig = AddressBookConfig()) -> None:
        self.path = Path(path)
        self.config = config
        self._writes = WriteFailures(log, f"the address book {self.path}", "peer updates are skipped until it can be")
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
        except sqlite3.Error as exc:
            raise PeerStoreError(f"cannot open the address book {self.path}: {exc}") from None
        try:
            self._check_identity()
            # The book is a cache of hints, not consensus: a commit need not wait for the disk (a crash
            # loses at most the last few entries). Waiting for it blocked the node's event loop on every
            # dial result (milliseconds each, much more on a busy disk).
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise PeerStoreError(f"address book {self.path} cannot be used ({exc}); move it away or delete it "
                                 "to start with an empty address book") from None
        except BaseException:
            self._db.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        (count,) = self._db.execute("SELECT COUNT(*) FROM peers").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the database; the book cannot be used afterwards."""
        self._db.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction. The book is hints, not consensus: a write the disk refuses (full) is rolled
        back, logged once a streak and skipped, never raised into the peer manager that asked for it."""
        try:
            with self._db:
                yield
        except sqlite3.OperationalError as exc:
            self._writes.failed(exc)
            return
        self._writes.succeeded()

    @property
    def write_error(self) -> str | None:
        """Why the last write was skipped (None once one succeeds)."""
        return self._writes.error

    def add(self, peer: str, addrs: list[str], now: float, source: str) -> None:
        """Remember ``addrs`` for ``peer``, learned from ``source`` (e.g. "bootstrap", "pex", "inbound").

        All addresses are checked before anything is written (:class:`AddressError`). At most
        ``max_addrs_per_peer`` are kept, the most recently seen; an empty list changes nothing.
        """
        with self._writing():
            self._add(peer, addrs, now, source)

    def _add(self, peer: str, addrs: list[str], now: float, source: str) -> None:
        check_peer_id(peer)
        normalized = list(dict.fromkeys(normalize_addr(peer, addr) for addr in addrs))
        normalized = normalized[: self.config.max_addrs_per_peer]
        if normalized:
            self._db.execute(
                "INSERT INTO peers (peer, source, first_seen, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (peer) DO UPDATE SET source = excluded.source, "
                "last_seen = max(last_seen, excluded.last_seen)", (peer, source, now, now))
            # Reversed so that, seen at the same time, the first given ranks newest (highest rowid).
            for addr in reversed(normalized):
                self._db.execute(
                    "INSERT INTO addrs (peer, addr, last_seen) VALUES (?, ?, ?) ON CONFLICT (peer, addr) "
                    "DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)", (peer, addr, now))
            self._db.execute(
                "DELETE FROM addrs WHERE peer = ? AND addr NOT IN (SELECT addr FROM addrs WHERE peer = ? "
                "ORDER BY last_seen DESC, rowid DESC LIMIT ?)", (peer, peer, self.config.max_addrs_per_peer))
            self._evict(keep=peer)

    def add_many(self, entries: list[tuple[str, str]], now: float, source: str) -> int:
        """Remember each ``(peer, addr)`` of ``entries`` (as :meth:`add`), in one transaction; unusable ones
        are skipped. Returns how many were usable."""
        usable = 0
        with self._writing():
            for peer, addr in entries:
                try:
                    self._add(peer, [addr], now, source)
                    usable += 1
                except AddressError:
                    continue
        return usable

    def mark_connected(self, peer: str, now: float) -> None:
        """A connection to ``peer`` succeeded: clear its failures (no-op for an unknown peer)."""
        with self._writing():
            self._db.execute(
                "UPDATE peers SET last_connected = ?, last_seen = max(last_seen, ?), failures = 0 "
                "WHERE peer = ?", (now, now, peer))

    def mark_failed(self, peer: str, now: float) -> None:
        """A dial to ``peer`` failed: count it, which backs the peer off (no-op for an unknown peer)."""
        with self._writing():
            self._db.execute(
                "UPDATE peers SET last_failed = ?, failures = failures + 1 WHERE peer = ?", (now, peer))

    def remove(self, peer: str) -> None:
        """Forget ``peer`` and its addresses."""
        with self._writing():
            self._db.execute("DELETE FROM addrs WHERE peer = ?", (peer,))
            self._db.execute("DELETE FROM peers WHERE peer = ?", (peer,))

    def get(self, peer: str) -> list[str]:
        """The addresses of ``peer``, most recently seen first; [] if unknown."""
        rows = self._db.execute(
            "SELECT addr FROM addrs WHERE peer = ? ORDER BY last_seen DESC, rowid DESC", (peer,))
        return [addr for (addr,) in rows]

    def all(self) -> list[tuple[str, list[str]]]:
        """Every peer with its addresses, by peer ID."""
        peers = [peer for (peer,) in self._db.execute("SELECT peer FROM peers ORDER BY peer")]
        return [(peer, self.get(peer)) for peer in peers]

    def info(self, peer: str) -> PeerRecord | None:
        """Everything known about ``peer``, or None."""
        row = self._db.execute(
            "SELECT source, first_seen, last_seen, last_connected, last_failed, failures FROM peers "
            "WHERE peer = ?", (peer,)).fetchone()
        if row is None:
            return None
        return PeerRecord(peer, self.get(peer), *row)

    def candidates(self, now: float, exclude: Iterable[str], limit: int) -> list[tuple[str, list[str]]]:
        """Up to ``limit`` peers to dial at ``now``: not in ``exclude``, not backing off, best first.

        Best: connected most recently, then never connected but fewest failures and most recently seen.
        """
        if limit <= 0:
            return []
        excluded = set(exclude)
        rows = self._db.execute(
            "SELECT peer, last_connected, last_failed, failures, last_seen FROM peers").fetchall()
        ready = [row for row in rows if row[0] not in excluded and self._ready(row[2], row[3], now)]
        ready.sort(key=lambda r: (r[1] is None, -(r[1] or 0.0), r[3], -r[4], r[0]))
        return [(row[0], self.get(row[0])) for row in ready[:limit]]

    def next_attempt(self, peer: str) -> float | None:
        """The earliest epoch time ``peer`` may be dialled again (0.0 if it never failed); None if unknown."""
        row = self._db.execute("SELECT last_failed, failures FROM peers WHERE peer = ?", (peer,)).fetchone()
        if row is None:
            return None
        last_failed, failures = row
        return 0.0 if last_failed is None else last_failed + self.config.backoff(failures)

    def _ready(self, last_failed: float | None, failures: int, now: float) -> bool:
        return failures == 0 or last_failed is None or now >= last_failed + self.config.backoff(failures)

    def _evict(self, keep: str) -> None:
        (count,) = self._db.execute("SELECT COUNT(*) FROM peers").fetchone()
        excess = count - self.config.max_peers
        if excess <= 0:
            return
        victims = self._db.execute(
            "SELECT peer FROM peers WHERE peer != ? ORDER BY "
            "CASE WHEN failures >= ? THEN 0 WHEN last_connected IS NULL THEN 1 ELSE 2 END, "
            "failures DESC, COALESCE(last_connected, last_seen) ASC, peer LIMIT ?",
            (keep, self.config.max_failures, excess)).fetchall()
        self._db.executemany("DELETE FROM addrs WHERE peer = ?", victims)
        self._db.executemany("DELETE FROM peers WHERE peer = ?", victims)

    def _check_identity(self) -> None:
        way_out = "move it away or delete it to start with an empty address book"
        try:
            tables = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                self._db.executescript(_SCHEMA)  # one transaction: a crash leaves no half-made book
                return
            meta = dict(self._db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
            (check,) = self._db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise PeerStoreError(f"address book {self.path} is damaged or not a database ({exc}); "
                                 f"{way_out}") from None
        if meta.get("format") != FORMAT or not {"peers", "addrs"} <= tables:
            raise PeerStoreError(f"{self.path} is an SQLite database but not an Otedama address book; {way_out}")
        if meta.get("version") != FORMAT_VERSION:
            raise PeerStoreError(f"address book {self.path} has format version {meta.get('version')!r}, "
                                 f"this version reads {FORMAT_VERSION}; {way_out}")
        if check != "ok":
            raise PeerStoreError(f"address book {self.path} is damaged ({check}); {way_out}")
