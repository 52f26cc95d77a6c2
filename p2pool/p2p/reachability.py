"""Whether peers can reach this node from outside, decided from what they did (no I/O).

Evidence, in order of weight:

- a peer of our network connected to us (an inbound connection that was identified) within
  ``evidence_window``: reachable;
- none did for ``grace`` seconds while we had outbound peers (so the network knew of us: they
  learn our address from identify, the DHT and peer exchange): not reachable;
- otherwise: unknown (a node that just started, or one with no peers).

The addresses peers report seeing us at (identify's observed address) are kept as a hint for the
operator: an observed IP that is none of ours means a NAT or a proxy in between, which ``--announce``
(and a forwarded port) fixes. A node that is not reachable keeps more outbound connections, since
nobody will dial it, and leaves the DHT's routing tables (client mode): peers could not dial it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Status(Enum):
    UNKNOWN = "unknown"
    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class ReachabilityConfig:
    evidence_window: float = 3600.0
    grace: float = 600.0
    # Observed addresses remembered (the most recent).
    max_observed: int = 8

    def __post_init__(self) -> None:
        if self.evidence_window <= 0 or self.grace <= 0 or self.max_observed < 1:
            raise ValueError("reachability windows must be positive")


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str


@dataclass
class Reachability:
    """The evidence so far; :meth:`decide` turns it into a :class:`Verdict`."""

    config: ReachabilityConfig = field(default_factory=ReachabilityConfig)
    # Our own addresses: listen and announced IPs, to tell an observed address that is ours.
    own_ips: frozenset[str] = frozenset()
    announced: bool = False
    last_inbound: float | None = None
    inbound_seen: int = 0
    connected_since: float | None = None
    observed: dict[str, float] = field(default_factory=dict)

    def inbound_peer(self, now: float) -> None:
        """An identified peer of our network dialled us."""
        self.last_inbound = now
        self.inbound_seen += 1

    def outbound_peers(self, count: int, now: float) -> None:
        """How many outbound peers we have now (the grace period runs while there is one)."""
        if count > 0 and self.connected_since is None:
            self.connected_since = now
        elif count == 0:
            self.connected_since = None

    def observed_addr(self, ip: str, now: float) -> None:
        """A peer reported seeing us at ``ip``."""
        self.observed[ip] = now
        if len(self.observed) > self.config.max_observed:
            del self.observed[min(self.observed, key=lambda a: self.observed[a])]

    def foreign_observations(self) -> list[str]:
        """Observed IPs that are none of ours (a NAT or proxy in between), most recent first."""
        return sorted((ip for ip in self.observed if ip not in self.own_ips), key=lambda a: -self.observed[a])

    def decide(self, now: float) -> Verdict:
        if self.last_inbound is not None and now - self.last_inbound <= self.config.evidence_window:
            return Verdict(Status.REACHABLE, f"a peer connected to us {now - self.last_inbound:.0f} s ago")
        if self.connected_since is not None:
            quiet_since = max(self.connected_since, self.last_inbound or self.connected_since)
            if now - quiet_since >= self.config.grace:
                reason = f"no peer has connected to us for {(now - quiet_since) / 60:.0f} min"
                nat = self.foreign_observations()
                if nat:
                    reason += f"; peers see us at {nat[0]}, which is not one of our addresses (NAT or proxy"
                    reason += ": check the forwarded port)" if self.announced else ": use --announce)"
                return Verdict(Status.UNREACHABLE, reason)
        return Verdict(Status.UNKNOWN, "no peer has connected to us yet")

    def status(self, now: float) -> dict[str, object]:
        verdict = self.decide(now)
        return {"status": verdict.status.value, "reason": verdict.reason, "inbound_seen": self.inbound_seen,
                "observed": self.foreign_observations() + sorted(ip for ip in self.observed if ip in self.own_ips)}
