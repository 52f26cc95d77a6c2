"""What a Stratum server allows strangers, as pure policy: connections per IP (with an allow list), worker
names per connection, deadlines to authorize and to stay quiet, and which rejects count as invalid work.

No I/O and no clock: the adapter (:mod:`p2pool.stratum.accept`, the server's sweeper) passes IPs, counts and
``now`` in and acts on the verdicts. Every table here is bounded by the connections that exist.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Reject reasons that mean the miner sent work that is wrong (not merely late): they earn strikes. Stale
# work (``stale-*``), "no-work" (our backend is down) and our own rate limit never do.
INVALID_WORK = frozenset({"low-difficulty", "bad-ntime", "bad-version", "duplicate", "invalid-share",
                          "job-not-found", "bad-params", "unauthorized", "not-subscribed"})


class Refusal(Enum):
    """Why a connection, a worker or a submit was refused (the label of the refusal metric)."""

    PER_IP = "per-ip"  # too many connections from one IP
    BANNED = "banned"  # the IP is banned for invalid work
    WORKERS = "workers"  # too many worker names on one connection
    AUTH_TIMEOUT = "auth-timeout"  # did not subscribe and authorize in time
    IDLE = "idle"  # sent nothing for too long
    SUBMIT_RATE = "submit-rate"  # submits faster than the connection's token bucket


@dataclass(frozen=True)
class StratumLimits:
    """The bounds of one server; the defaults are the node's option defaults."""

    max_workers: int = 256
    max_per_ip: int = 256
    allow: tuple[IpNetwork, ...] = ()
    auth_timeout: float = 30.0
    idle_timeout: float = 600.0
    submit_rate: float = 100.0
    submit_burst: float = 200.0
    ban_strikes: int = 100  # 0: never ban
    ban_seconds: float = 600.0

    def __post_init__(self) -> None:
        if self.max_workers < 1 or self.max_per_ip < 1:
            raise ValueError("max_workers and max_per_ip must be at least 1")
        if not (self.auth_timeout > 0 and self.idle_timeout > 0 and self.submit_rate > 0 and self.submit_burst > 0):
            raise ValueError("timeouts and the submit rate must be positive")
        if self.ban_strikes < 0 or self.ban_seconds < 0:
            raise ValueError("ban_strikes and ban_seconds must not be negative")


def parse_networks(texts: Iterable[str]) -> tuple[IpNetwork, ...]:
    """IPs and CIDRs (``203.0.113.7``, ``10.0.0.0/8``, ``2001:db8::/32``); ValueError names a bad one."""
    out = []
    for text in texts:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{text!r} is not an IP address or a CIDR such as 10.0.0.0/8") from None
    return tuple(out)


def allowed(ip: str, allow: tuple[IpNetwork, ...]) -> bool:
    """Whether ``ip`` is in the allow list (a farm behind one address: no per-IP cap)."""
    if not allow:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in allow)


class IpCounts:
    """Open connections per IP; :meth:`admit` says whether one more may open (and counts it if so)."""

    def __init__(self, limits: StratumLimits) -> None:
        self.limits = limits
        self._open: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._open)

    def count(self, ip: str) -> int:
        return self._open.get(ip, 0)

    def admit(self, ip: str) -> Refusal | None:
        """Count a new connection from ``ip``, or refuse it (nothing counted) past the cap."""
        if self._open[ip] >= self.limits.max_per_ip and not allowed(ip, self.limits.allow):
            return Refusal.PER_IP
        self._open[ip] += 1
        return None

    def release(self, ip: str) -> None:
        """A connection :meth:`admit` counted has closed."""
        left = self._open[ip] - 1
        if left > 0:
            self._open[ip] = left
        else:
            del self._open[ip]


class WorkerRefs:
    """Authorized worker names over every connection, each with how many connections hold it.

    The server asks who is authorized in O(names), and a name's records go when its last connection does."""

    def __init__(self) -> None:
        self._refs: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._refs)

    def __contains__(self, name: object) -> bool:
        return name in self._refs

    def names(self) -> set[str]:
        return set(self._refs)

    def acquire(self, names: Iterable[str]) -> None:
        """A connection authorized ``names`` (each once per connection)."""
        for name in names:
            self._refs[name] += 1

    def release(self, names: Iterable[str]) -> list[str]:
        """A connection holding ``names`` closed; the names no connection holds any more."""
        gone = []
        for name in names:
            left = self._refs[name] - 1
            if left > 0:
                self._refs[name] = left
            else:
                del self._refs[name]
                gone.append(name)
        return gone


def worker_refusal(held: int, limits: StratumLimits) -> str | None:
    """Why a connection holding ``held`` worker names may not authorize another (None: it may)."""
    if held >= limits.max_workers:
        return (f"this connection already has {held} workers, the most this node allows on one connection;"
                " open another connection for more")
    return None


def overdue(opened: float, last_active: float, authorized: bool, now: float, limits: StratumLimits,
            waiting: bool = False) -> Refusal | None:
    """Whether a connection must be closed at ``now``: not authorized within the deadline, or silent too long.

    A miner ``waiting`` for work (the node has none: its backend is down, it is syncing) cannot submit, so
    it is never idle; its clock starts again when work comes."""
    if not authorized and now - opened >= limits.auth_timeout:
        return Refusal.AUTH_TIMEOUT
    if not waiting and now - last_active >= limits.idle_timeout:
        return Refusal.IDLE
    return None
