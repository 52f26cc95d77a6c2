"""What deserves a notification, decided without I/O: every ``now`` is passed in.

:class:`WorkerWatch` tells when a worker has been gone for N minutes (and when it is back);
:class:`HealthWatch` when the node has been unhealthy for a grace period (and when it recovers);
:func:`block_found` turns a found block into a notification.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from p2pool.events import FoundBlock

BLOCK_FOUND = "block_found"
WORKER_OFFLINE = "worker_offline"
WORKER_BACK = "worker_back"
NODE_UNHEALTHY = "node_unhealthy"
NODE_HEALTHY = "node_healthy"
KINDS = (BLOCK_FOUND, WORKER_OFFLINE, WORKER_BACK, NODE_UNHEALTHY, NODE_HEALTHY)


@dataclass(frozen=True)
class Notification:
    """``kind`` (one of :data:`KINDS`), a sentence for people, and the facts for programs."""

    kind: str
    text: str
    time: float  # epoch seconds
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, node: str, network: str) -> dict[str, Any]:
        return {"event": self.kind, "text": self.text, "time": self.time, "node": node, "network": network,
                "data": self.data}


def block_found(block: FoundBlock, now: float) -> Notification:
    return Notification(BLOCK_FOUND, f"block {block.height} found by {block.worker or 'a miner'}: {block.hash}", now,
                        block.as_dict())


class WorkerWatch:
    """Workers seen connected; one that has been absent for ``after`` seconds is reported offline once.

    At most ``limit`` names are remembered (the longest gone are forgotten first), so a stranger who
    cycles through names cannot grow it."""

    def __init__(self, after: float, limit: int = 10_000) -> None:
        self.after = after
        self.limit = limit
        self._last_seen: dict[str, float] = {}
        self._offline: set[str] = set()

    def observe(self, connected: Iterable[str], now: float) -> list[Notification]:
        out = []
        for name in connected:
            if name in self._offline:
                self._offline.discard(name)
                gone = now - self._last_seen[name]
                out.append(Notification(WORKER_BACK, f"worker {name} is back after {gone / 60:.0f} min", now,
                                        {"worker": name, "offline_seconds": round(gone)}))
            self._last_seen.pop(name, None)
            self._last_seen[name] = now  # most recently seen last
        for name, seen in self._last_seen.items():
            if name not in self._offline and now - seen >= self.after:
                self._offline.add(name)
                out.append(Notification(WORKER_OFFLINE, f"worker {name} has been offline for "
                                        f"{(now - seen) / 60:.0f} min", now, {"worker": name, "last_seen": seen}))
        while len(self._last_seen) > self.limit:
            oldest = next(iter(self._last_seen))
            del self._last_seen[oldest]
            self._offline.discard(oldest)
        return out


class HealthWatch:
    """Reports the node unhealthy once its problems have lasted ``grace`` seconds, and healthy again after."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._since: float | None = None
        self._reported = False

    def observe(self, problems: Sequence[str], now: float) -> list[Notification]:
        if not problems:
            self._since = None
            if self._reported:
                self._reported = False
                return [Notification(NODE_HEALTHY, "node is healthy again", now)]
            return []
        if self._since is None:
            self._since = now
        if not self._reported and now - self._since >= self.grace:
            self._reported = True
            return [Notification(NODE_UNHEALTHY, "node unhealthy: " + "; ".join(problems), now,
                                 {"problems": list(problems)})]
        return []
