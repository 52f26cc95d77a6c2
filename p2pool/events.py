"""What happens in a node, as events: the parts announce them, the composition root routes them.

Every event is a frozen dataclass. A part is handed a ``publish`` callable and never knows who
listens; ``p2pool/node.py`` subscribes the listeners (Stratum new work, gossip, metrics, the API's
live feed) on one :class:`~p2pool.event_bus.EventBus`. The chain backend's events
(:class:`TemplateChanged`, :class:`ChainHealthChanged`) are defined beside the template monitor that
announces them and listed here too.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from p2pool.chain.events import ChainHealthChanged, RpcCalled, TemplateChanged
from sharechain.fate import Fate
from sharechain.record import ShareRecord
from sharechain.rejection import Rejection
from sharechain.share import Share


class SourceKind(enum.Enum):
    """Where a share came from."""

    LOCAL = "local"  # one of this node's own Stratum miners
    GOSSIP = "gossip"  # a peer relayed it
    SYNC = "sync"  # downloaded while catching up (or fetched as a missing parent)


@dataclass(frozen=True)
class ShareSource:
    kind: SourceKind
    peer: str | None = None  # the peer that sent it (gossip, sync)
    worker: str | None = None  # the Stratum worker that found it (local)

    def describe(self) -> str:
        if self.kind is SourceKind.LOCAL:
            return f"miner {self.worker}" if self.worker else "miner"
        who = f" {self.peer[-8:]}" if self.peer else ""
        return f"{'peer' if self.kind is SourceKind.GOSSIP else 'sync'}{who}"


__all__ = ["BlockFound", "ChainHealthChanged", "FoundBlock", "MinerBanned", "MinerRefused", "NewWork",
           "PeerBanned", "PeerConnected", "PeerDisconnected", "PeerPenalized", "RpcCalled", "ShareRefused",
           "ShareSettled", "ShareSource", "SharesAccepted", "SharesSettled", "SourceKind", "SubmitsAnswered",
           "SyncRequestDone", "SyncStateChanged", "TemplateChanged", "TipChanged", "WorkSent", "WorkerConnected",
           "WorkerDisconnected"]


@dataclass(frozen=True)
class SharesAccepted:
    """Shares joined the sharechain and are stored durably (in chain order)."""

    shares: tuple[Share, ...]
    source: ShareSource


@dataclass(frozen=True)
class ShareRefused:
    """A share broke a consensus rule: ``rejection`` names it (and whose fault it is), ``detail`` explains."""

    share_hash: bytes
    source: ShareSource
    rejection: Rejection
    detail: str


@dataclass(frozen=True)
class ShareSettled:
    """A share's fate is final: on the main chain, paid as an uncle, or orphaned (see sharechain.fate)."""

    share_hash: bytes
    fate: Fate
    source: ShareSource
    payout_script: bytes


@dataclass(frozen=True)
class SharesSettled:
    """Every share whose fate became final at one tip change, lowest first (a join settles thousands at
    once: one event, not one each)."""

    settled: tuple[ShareSettled, ...]


@dataclass(frozen=True)
class TipChanged:
    """The sharechain's best tip moved; ``reorg_depth`` shares left the main chain (0: it only grew)."""

    tip: ShareRecord
    reorg_depth: int


@dataclass(frozen=True)
class SyncStateChanged:
    """Whether miners must wait because the sharechain is behind the node's peers."""

    behind: bool


@dataclass(frozen=True)
class PeerPenalized:
    """A peer did something wrong (``offense`` is a :class:`~p2pool.p2p.scoring.Offense` value)."""

    peer: str
    offense: str
    reason: str


@dataclass(frozen=True)
class PeerBanned:
    """A peer was banned (by its score or by the operator)."""

    peer: str


@dataclass(frozen=True)
class SyncRequestDone:
    """A sync request to a peer ended: the message sent (``GetShares``...), how long it took, whether it was answered."""

    message: str
    seconds: float
    ok: bool


@dataclass(frozen=True)
class SubmitsAnswered:
    """The Stratum server answered ``count`` submits read in one piece of a miner's data, ``seconds`` after reading
    it (checking, the durable write of shares, and building the answers)."""

    count: int
    seconds: float


@dataclass(frozen=True)
class WorkSent:
    """The Stratum server has been through its connections with new work: ``jobs`` sent, to ``connections``
    looked at, ``seconds`` from the first to the last (batches, and the answers between them, included)."""

    jobs: int
    connections: int
    seconds: float


@dataclass(frozen=True)
class PeerConnected:
    """A sharechain peer joined (``inbound``: it dialled us)."""

    peer: str
    inbound: bool


@dataclass(frozen=True)
class PeerDisconnected:
    peer: str


@dataclass(frozen=True)
class WorkerConnected:
    """A Stratum connection authorized ``worker`` (the full username, ``ADDRESS[.NAME]``) paid to ``address``."""

    worker: str
    address: str
    connection: str  # the miner's host:port


@dataclass(frozen=True)
class WorkerDisconnected:
    """The connection that authorized ``worker`` closed."""

    worker: str
    connection: str


@dataclass(frozen=True)
class MinerRefused:
    """The Stratum server refused a stranger something: a connection (``per-ip``, ``banned``), a worker name
    (``workers``), its connection after a deadline (``auth-timeout``, ``idle``) or ``count`` submits
    (``submit-rate``). ``reason`` is a :class:`~p2pool.stratum.limits.Refusal` value."""

    ip: str
    reason: str
    detail: str
    count: int = 1


@dataclass(frozen=True)
class MinerBanned:
    """A Stratum miner's IP was banned until ``until`` (epoch seconds) for repeated invalid work."""

    ip: str
    until: float
    reason: str


@dataclass(frozen=True)
class NewWork:
    """Miners need new jobs; ``clean``: work on the old ones is worthless (tell them to drop it)."""

    clean: bool


@dataclass(frozen=True)
class FoundBlock:
    """A block this node found and the chain backend accepted."""

    hash: str
    height: int
    time: int
    share: str
    share_info: str  # the share's ShareInfo, serialized, hex
    worker: str
    value: int
    payouts: tuple[tuple[str, int], ...]  # (address, satoshis)

    def as_dict(self) -> dict[str, Any]:
        return {"hash": self.hash, "height": self.height, "time": self.time, "share": self.share,
                "share_info": self.share_info, "worker": self.worker, "value": self.value,
                "payouts": [list(p) for p in self.payouts]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FoundBlock:
        return cls(str(data["hash"]), int(data["height"]), int(data.get("time", 0)), str(data.get("share", "")),
                   str(data.get("share_info", "")), str(data.get("worker", "")), int(data.get("value", 0)),
                   tuple((str(a), int(v)) for a, v in data.get("payouts", ())))


@dataclass(frozen=True)
class BlockFound:
    block: FoundBlock


@dataclass(frozen=True)
class StoreWritable:
    """The share database takes writes again after a failure (``recovered``), or stopped taking them
    (``recovered`` false, ``reason`` LevelDB's error): while it cannot write, no share is accepted."""

    recovered: bool
    reason: str = ""
