"""Connection limits, decided without I/O: every connection the node holds, from the moment it is
accepted, and what may be refused at each step.

A connection goes through three stages. ``HANDSHAKE``: an inbound TCP connection was accepted and its
security and multiplexer are being negotiated (half-open). ``UNIDENTIFIED``: the peer's ID is known, but
not yet that it speaks our network's protocols. ``PEER``: a counted peer, inbound (against the inbound
cap) or outbound (against the outbound target). Each step is a question to :class:`ConnectionTable`,
which answers with a :class:`Refusal` or None; the adapters (the inbound path and the peer manager)
close what is refused. Times are seconds from the caller's clock.

Per-address limits apply to inbound connections (whom we dial is our choice): at most ``max_per_ip``
from one IP address and ``max_per_subnet`` from one /24 (IPv4) or /48 (IPv6). An address whose
connections fail their handshake ``strikes`` times within ``strike_window`` (garbage, silence, another
protocol) is refused for ``refuse_for`` seconds, doubling for each repeat up to ``refuse_max``; so is a
peer ID found not to speak our protocol (see :meth:`ConnectionTable.refuse_peer`). Loopback addresses
are exempt from the per-address rules by default (they are this machine: other local nodes, or a
local proxy or Tor, through which every stranger would share one address); the global bounds on
half-open, unidentified and inbound connections still apply to them.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field
from enum import Enum


class Stage(Enum):
    HANDSHAKE = "handshake"
    UNIDENTIFIED = "unidentified"
    PEER = "peer"


class Refusal(Enum):
    """Why a connection was refused (the text is for logs and the status page)."""

    REFUSED_ADDRESS = "its address is refused for a while (failed handshakes)"
    REFUSED_PEER = "the peer is refused for a while (it does not speak our protocol)"
    PER_IP = "too many connections from its IP address"
    PER_SUBNET = "too many connections from its subnet"
    HALF_OPEN = "too many connections still in their handshake"
    UNIDENTIFIED = "too many connections not yet identified"
    INBOUND_CAP = "inbound peer limit reached"
    DUPLICATE = "the peer already has an inbound connection"


@dataclass(frozen=True)
class LimitConfig:
    max_per_ip: int = 4
    max_per_subnet: int = 8
    ipv4_subnet: int = 24
    ipv6_subnet: int = 48
    # Inbound connections in their handshake at once; how long one may take.
    max_handshaking: int = 16
    handshake_timeout: float = 5.0
    # Connections whose peer has not yet shown it speaks our protocols; how long that may take.
    max_unidentified: int = 16
    identify_timeout: float = 10.0
    # Failed handshakes from one address within the window before the address is refused.
    strikes: int = 3
    strike_window: float = 60.0
    refuse_for: float = 60.0
    refuse_max: float = 3600.0
    # Refused addresses and peers remembered at most (the ones expiring first are dropped beyond it).
    max_refused: int = 4096
    exempt_loopback: bool = True

    def __post_init__(self) -> None:
        counts = (self.max_per_ip, self.max_per_subnet, self.max_handshaking, self.max_unidentified, self.strikes,
                  self.max_refused)
        if min(counts) < 1:
            raise ValueError("connection limits must be at least 1")
        if not 0 <= self.ipv4_subnet <= 32 or not 0 <= self.ipv6_subnet <= 128:
            raise ValueError("subnet prefixes must be within 0-32 (IPv4) and 0-128 (IPv6)")
        if min(self.handshake_timeout, self.identify_timeout, self.strike_window, self.refuse_for) <= 0:
            raise ValueError("timeouts and windows must be positive")
        if self.refuse_max < self.refuse_for:
            raise ValueError("refuse_max must be at least refuse_for")


@dataclass
class Connection:
    key: int
    ip: str
    port: int
    inbound: bool
    stage: Stage
    since: float
    peer: str | None = None


@dataclass
class _Refused:
    until: float
    times: int


def normalize_ip(ip: str) -> str:
    """``ip`` in canonical form; an IPv4-mapped IPv6 address as the IPv4 address it maps."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def subnet_of(ip: str, ipv4_prefix: int = 24, ipv6_prefix: int = 48) -> str:
    """The subnet ``ip`` is counted in (``ip`` itself when it is not an IP address)."""
    try:
        address = ipaddress.ip_address(normalize_ip(ip))
    except ValueError:
        return ip
    prefix = ipv4_prefix if address.version == 4 else ipv6_prefix
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(normalize_ip(ip)).is_loopback
    except ValueError:
        return False


@dataclass
class ConnectionTable:
    config: LimitConfig = field(default_factory=LimitConfig)
    max_inbound: int = 32
    _conns: dict[int, Connection] = field(default_factory=dict)
    _refused_ips: dict[str, _Refused] = field(default_factory=dict)
    _refused_peers: dict[str, _Refused] = field(default_factory=dict)
    _strikes: dict[str, deque[float]] = field(default_factory=dict)
    refusals: dict[Refusal, int] = field(default_factory=dict)

    # --- the steps ------------------------------------------------------------------------------------
    def accept(self, key: int, ip: str, port: int, now: float) -> Refusal | None:
        """An inbound TCP connection was accepted: may its handshake start?"""
        ip = normalize_ip(ip)
        limited = not (self.config.exempt_loopback and is_loopback(ip))
        inbound = [c for c in self._conns.values() if c.inbound]
        refusal = None
        if limited and self._is_refused(self._refused_ips, ip, now):
            refusal = Refusal.REFUSED_ADDRESS
        elif sum(c.stage is Stage.HANDSHAKE for c in inbound) >= self.config.max_handshaking:
            refusal = Refusal.HALF_OPEN
        elif limited and sum(c.ip == ip for c in inbound) >= self.config.max_per_ip:
            refusal = Refusal.PER_IP
        elif limited and sum(self._subnet(c.ip) == self._subnet(ip) for c in inbound) >= self.config.max_per_subnet:
            refusal = Refusal.PER_SUBNET
        if refusal is None:
            self._conns[key] = Connection(key, ip, port, True, Stage.HANDSHAKE, now)
        return self._count(refusal)

    def secured(self, key: int, peer: str, now: float) -> Refusal | None:
        """The security handshake of inbound ``key`` named ``peer``: may it go on? (Refused: forgotten.)"""
        conn = self._conns[key]
        refusal = None
        if self.is_refused_peer(peer, now):
            refusal = Refusal.REFUSED_PEER
        elif any(c.inbound and c.peer == peer for c in self._conns.values()):
            refusal = Refusal.DUPLICATE
        elif self._inbound_peers(exclude=peer) >= self.max_inbound:
            refusal = Refusal.INBOUND_CAP
        elif self.count(Stage.UNIDENTIFIED) >= self.config.max_unidentified:
            refusal = Refusal.UNIDENTIFIED
        if refusal is None:
            conn.peer, conn.stage, conn.since = peer, Stage.UNIDENTIFIED, now
        else:
            del self._conns[key]
        return self._count(refusal)

    def opened(self, key: int, ip: str, port: int, peer: str, now: float) -> Refusal | None:
        """An outbound connection to ``peer`` is up (we chose to dial it): unidentified until shown otherwise."""
        if self.is_refused_peer(peer, now):
            return self._count(Refusal.REFUSED_PEER)
        self._conns[key] = Connection(key, normalize_ip(ip), port, False, Stage.UNIDENTIFIED, now, peer)
        return None

    def identified(self, key: int, now: float) -> Refusal | None:
        """Connection ``key``'s peer speaks our protocols: it becomes a counted peer, unless over the cap."""
        conn = self._conns[key]
        if conn.inbound and conn.peer is not None and self._inbound_peers(exclude=conn.peer) >= self.max_inbound:
            return self._count(Refusal.INBOUND_CAP)
        conn.stage, conn.since = Stage.PEER, now
        return None

    def failed(self, key: int, now: float) -> None:
        """Connection ``key`` ended in its handshake (an error or its deadline): a strike on its address."""
        conn = self._conns.pop(key, None)
        if conn is None or (self.config.exempt_loopback and is_loopback(conn.ip)):
            return
        strikes = self._strikes.setdefault(conn.ip, deque(maxlen=self.config.strikes))
        strikes.append(now)
        if len(strikes) == self.config.strikes and now - strikes[0] <= self.config.strike_window:
            self._refuse(self._refused_ips, conn.ip, now)
            strikes.clear()
        self._bound(self._strikes)

    def refuse_peer(self, peer: str, now: float, minimum: float = 0.0) -> float:
        """Refuse ``peer`` (it does not speak our protocol) for a while; returns until when."""
        return self._refuse(self._refused_peers, peer, now, minimum)

    def closed(self, key: int) -> Connection | None:
        return self._conns.pop(key, None)

    def overdue(self, now: float) -> list[Connection]:
        """Connections still unidentified past ``identify_timeout`` (to be closed). Handshakes have their
        deadline in the inbound path itself."""
        return [c for c in self._conns.values()
                if c.stage is Stage.UNIDENTIFIED and now - c.since > self.config.identify_timeout]

    def prune(self, now: float) -> None:
        """Forget refusals that have expired (a repeat offender's count survives until then)."""
        for table in (self._refused_ips, self._refused_peers):
            for name in [n for n, r in table.items() if r.until <= now]:
                del table[name]
        for ip in [ip for ip, s in self._strikes.items() if not s or now - s[-1] > self.config.strike_window]:
            del self._strikes[ip]

    # --- queries --------------------------------------------------------------------------------------
    def get(self, key: int) -> Connection | None:
        return self._conns.get(key)

    def connections(self) -> list[Connection]:
        return list(self._conns.values())

    def count(self, stage: Stage) -> int:
        return sum(c.stage is stage for c in self._conns.values())

    def is_refused_peer(self, peer: str, now: float) -> bool:
        return self._is_refused(self._refused_peers, peer, now)

    def is_refused_ip(self, ip: str, now: float) -> bool:
        return self._is_refused(self._refused_ips, normalize_ip(ip), now)

    def status(self, now: float) -> dict[str, object]:
        return {
            "handshaking": self.count(Stage.HANDSHAKE),
            "unidentified": self.count(Stage.UNIDENTIFIED),
            "peers": self.count(Stage.PEER),
            "refused_addresses": sum(r.until > now for r in self._refused_ips.values()),
            "refused_peers": sum(r.until > now for r in self._refused_peers.values()),
            "refusals": {r.name.lower(): n for r, n in sorted(self.refusals.items(), key=lambda i: i[0].name)},
        }

    # --- inside ---------------------------------------------------------------------------------------
    def _subnet(self, ip: str) -> str:
        return subnet_of(ip, self.config.ipv4_subnet, self.config.ipv6_subnet)

    def _inbound_peers(self, exclude: str) -> int:
        return len({c.peer for c in self._conns.values() if c.inbound and c.stage is Stage.PEER and c.peer != exclude})

    def _count(self, refusal: Refusal | None) -> Refusal | None:
        if refusal is not None:
            self.refusals[refusal] = self.refusals.get(refusal, 0) + 1
        return refusal

    def _is_refused(self, table: dict[str, _Refused], name: str, now: float) -> bool:
        entry = table.get(name)
        return entry is not None and entry.until > now

    def _refuse(self, table: dict[str, _Refused], name: str, now: float, minimum: float = 0.0) -> float:
        previous = table.get(name)
        times = previous.times + 1 if previous is not None else 1
        seconds = min(self.config.refuse_max, self.config.refuse_for * 2.0 ** min(times - 1, 32))
        table[name] = _Refused(now + max(seconds, minimum), times)
        self._bound(table)
        return table[name].until

    def _bound(self, table: dict[str, _Refused] | dict[str, deque[float]]) -> None:
        excess = len(table) - self.config.max_refused
        if excess <= 0:
            return
        def soonest(name: str) -> float:
            entry = table[name]
            return entry.until if isinstance(entry, _Refused) else (entry[-1] if entry else 0.0)
        for name in sorted(table, key=soonest)[:excess]:
            del table[name]
