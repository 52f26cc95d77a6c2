"""What the node and its Stratum worker processes tell each other (pickled in :mod:`.wire` frames).

Node to worker, on the control channel: :class:`Setup` first, then :class:`Work` / :class:`NoWork` for
each piece of new work and :class:`Bans` when the Stratum bans change. Worker to node, on the control
channel: :class:`Report` (events, closed connections' IPs, strikes) every tenth of a second and a
:class:`Snapshot` of its counts every second. On the take channel the worker asks :class:`Take` and waits
for :class:`Taken`: a solution that may be a share or a block is the node's to take, and the miner is
answered only after it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2pool.chain.template import BlockTemplate
from p2pool.p2p.banlist import Ban
from p2pool.stratum.server import StratumConfig
from p2pool.stratum.stats import SubmitCounts, WorkerStats
from sharechain.params import NetworkParams
from sharechain.prepared import PreparedShare


@dataclass(frozen=True)
class Setup:
    """A worker process's settings: it is worker ``index`` (for its log lines); ``config`` gives it its own
    extranonce1 start (the node's plus ``index``) and the stride that keeps every process's apart."""

    params: NetworkParams
    config: StratumConfig
    index: int
    log_level: int
    bans: tuple[Ban, ...]


@dataclass(frozen=True)
class Work:
    """The work of a template and tip, as :class:`~p2pool.work.shared_job.SharedWork` needs it: the template
    without its transactions (a worker never builds a block), the prepared share, the merkle branch."""

    work_id: int
    clean: bool
    head: BlockTemplate
    share: PreparedShare
    branch: tuple[bytes, ...]
    tip_height: int | None


@dataclass(frozen=True)
class NoWork:
    """No work now (chain backend down, sharechain behind its peers): miners are told so."""

    clean: bool
    block: bytes
    tip_height: int | None


@dataclass(frozen=True)
class Bans:
    """Every Stratum ban in force."""

    bans: tuple[Ban, ...]


@dataclass(frozen=True)
class Take:
    """A solution at or under the share target (or the block target) of job ``job_id`` of work ``work_id``."""

    request: int
    work_id: int
    job_id: str
    clean: bool
    payout_script: bytes
    worker: str
    extranonce1: bytes
    extranonce2: bytes
    ntime: int
    nonce: int
    version: int


@dataclass(frozen=True)
class Taken:
    """The node's answer to :class:`Take`: None once the share is stored (or the block queued), else the
    refusal's (code, reason, message) to tell the miner."""

    request: int
    error: tuple[int, str, str] | None


@dataclass(frozen=True)
class Report:
    """What happened in a worker process since its last report: the events it published (in order), the
    IPs of connections that closed (one entry per connection), strikes (IP, invalid, good), and its log
    lines (logger, level, message: the node writes them to its own log); ``answered`` holds the
    :class:`~p2pool.events.SubmitsAnswered` events as (count, seconds) pairs, thousands a second under load."""

    events: tuple[object, ...]
    closed: tuple[str, ...]
    strikes: tuple[tuple[str, int, int], ...]
    logs: tuple[tuple[str, int, str], ...] = ()
    answered: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """A worker process's counts; ``workers`` (per-worker statistics) comes every few seconds, None between."""

    connections: int
    names: frozenset[str]
    counts: SubmitCounts
    hashrate: float
    workers: tuple[WorkerStats, ...] | None
