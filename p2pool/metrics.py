"""Prometheus metrics of one node, on a registry of its own (several nodes can share a process).

Counters follow the node's events (the composition root subscribes the ``on_*`` methods); values
that are sampled rather than counted are read from the parts at scrape time (:meth:`NodeMetrics.observe`
for plain gauges, :meth:`NodeMetrics.observe_stratum` and :meth:`NodeMetrics.observe_peers` for the
labelled ones). Every label takes values from a fixed set (the reasons, sources, directions and
methods the code itself names), so no stranger can grow a series. ``docs/operations.md`` lists the
names; the alerting rules and Grafana dashboards in ``deploy/`` use nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from p2pool.chain.events import RpcCalled, TemplateChanged
from p2pool.events import (
    BlockFound,
    ChainHealthChanged,
    MinerBanned,
    MinerRefused,
    PeerBanned,
    PeerPenalized,
    ShareRefused,
    SharesAccepted,
    SharesSettled,
    SourceKind,
    SubmitsAnswered,
    SyncRequestDone,
    SyncStateChanged,
    TipChanged,
)
from p2pool.stratum.stats import SubmitCounts
from sharechain.bitcoin.hashing import hash_to_int
from sharechain.bitcoin.target import bits_to_target, work_from_target
from sharechain.fate import Fate

SOURCES = tuple(kind.value for kind in SourceKind)
# What became of a share (sharechain.fate.Fate values; share fates announce them).
OUTCOMES = tuple(fate.value for fate in Fate)
DIRECTIONS = ("inbound", "outbound")
# Chain backend calls the node makes; anything else is counted as "other".
RPC_METHODS = ("getblocktemplate", "getblocktemplate_longpoll", "submitblock", "getblockcount", "getbestblockhash",
               "getblockhash", "getblock", "getblockchaininfo")
SYNC_MESSAGES = ("GetTip", "GetShares", "GetSharesByHash", "GetHashes", "GetRecent", "GetPeers")
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_NETWORK_LATENCY = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_DELAY = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
_DIFF1_WORK = 2**32  # hashes a difficulty-1 share stands for


@dataclass(frozen=True)
class _Reads:
    """The labelled values read at scrape time (None: this node has no such part)."""

    stratum: Callable[[], SubmitCounts] | None = None
    peers: Callable[[], Mapping[str, int]] | None = None
    store: Callable[[], StoreHealth] | None = None


@dataclass(frozen=True)
class StoreHealth:
    """The share database as a scrape sees it: whether it takes writes, and how many writes failed."""

    unwritable: bool
    write_errors: int


class _ScrapeCollector:
    """Yields the labelled metrics that are read from the parts when scraped."""

    def __init__(self) -> None:
        self.reads = _Reads()

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        counts = self.reads.stratum() if self.reads.stratum is not None else SubmitCounts(0, {}, 0.0)
        accepted = CounterMetricFamily("otedama_stratum_accepted", "Stratum submits accepted")
        accepted.add_metric([], counts.accepted)
        rejects = CounterMetricFamily("otedama_stratum_rejects", "Stratum submits refused, by reason", labels=["reason"])
        for reason, count in sorted(counts.rejected.items()):
            rejects.add_metric([reason], count)
        work = CounterMetricFamily("otedama_stratum_work",
                                   "Hashes our miners' accepted submits stand for (rate() is the local hash rate)")
        work.add_metric([], counts.work)
        peers = GaugeMetricFamily("otedama_peers", "Connected sharechain peers, by direction", labels=["direction"])
        directions = self.reads.peers() if self.reads.peers is not None else {}
        for direction in DIRECTIONS:
            peers.add_metric([direction], directions.get(direction, 0))
        store = self.reads.store() if self.reads.store is not None else StoreHealth(False, 0)
        unwritable = GaugeMetricFamily("otedama_store_unwritable",
                                       "1 while the share database cannot write (disk full?): shares are refused")
        unwritable.add_metric([], 1 if store.unwritable else 0)
        errors = CounterMetricFamily("otedama_store_write_errors", "Writes to the share database that failed")
        errors.add_metric([], store.write_errors)
        return [accepted, rejects, work, peers, unwritable, errors]


class NodeMetrics:
    def __init__(self, *, network: str = "", version: str = "") -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.info = Gauge("otedama_info", "Always 1; the labels say what runs", ["network", "version"], registry=r)
        self.info.labels(network, version).set(1)
        self.hashrate = Gauge("otedama_hashrate_total", "Hash rate of this node's miners (hashes/s)", registry=r)
        self.miners_active = Gauge("otedama_miners_active", "Authorized Stratum connections", registry=r)
        self.stratum_connections = Gauge("otedama_stratum_connections", "Open Stratum connections (TCP and TLS)",
                                         registry=r)
        self.stratum_workers = Gauge("otedama_stratum_workers", "Authorized Stratum worker names", registry=r)
        self.submit_seconds = Histogram("otedama_stratum_submit_seconds", "From reading a miner's submits to "
                                        "having the answers (checks and the durable write)", buckets=_LATENCY,
                                        registry=r)
        self.shares_valid = Counter("otedama_shares_valid", "Shares accepted into the sharechain", registry=r)
        self.shares_invalid = Counter("otedama_shares_invalid", "Shares refused by consensus rules", registry=r)
        self.shares_accepted = Counter("otedama_shares_accepted", "Shares accepted into the sharechain, by source",
                                       ["source"], registry=r)
        self.shares_refused = Counter("otedama_shares_refused", "Shares refused by a consensus rule, by source and "
                                      "rule", ["source", "reason"], registry=r)
        self.sharechain_work = Counter("otedama_sharechain_work", "Work of the shares accepted, by source "
                                       "(rate() of the sum is the pool's hash rate)", ["source"], registry=r)
        self.uncles = Counter("otedama_uncles", "Uncles named by the shares accepted", registry=r)
        self.local_outcomes = Counter("otedama_local_shares", "What became of our miners' shares: main chain, "
                                      "uncle or orphan", ["outcome"], registry=r)
        self.sharechain_outcomes = Counter("otedama_sharechain_outcomes", "What became of every share the node "
                                           "knows: main chain, uncle or orphan", ["outcome"], registry=r)
        self._outcome_children: dict[str, tuple[Any, Any]] = {}
        self.blocks_found = Counter("otedama_blocks_found", "Blocks found and accepted by the chain backend",
                                    registry=r)
        self.sharechain_height = Gauge("otedama_sharechain_height", "Height of the sharechain tip", registry=r)
        self.sharechain_shares = Gauge("otedama_sharechain_shares", "Shares in the sharechain", registry=r)
        self.sharechain_orphans = Gauge("otedama_sharechain_orphans", "Shares waiting for a missing parent",
                                        registry=r)
        self.tip_age = Gauge("otedama_sharechain_tip_age_seconds", "Seconds since the tip share's timestamp",
                             registry=r)
        self.effort = Gauge("otedama_effort_ratio", "Pool work since the last block a share of the sharechain found, "
                            "over the work a block needs (1.0 = 100 %)", registry=r)
        self.network_difficulty = Gauge("otedama_network_difficulty", "Bitcoin difficulty of the current template",
                                        registry=r)
        self.blockchain_connected = Gauge("otedama_blockchain_connected",
                                          "1 while the chain backend answers, else 0", registry=r)
        self.rpc_seconds = Histogram("otedama_rpc_seconds", "Chain backend calls, by method", ["method"],
                                     buckets=_NETWORK_LATENCY, registry=r)
        self.rpc_errors = Counter("otedama_rpc_errors", "Chain backend calls that failed, by method and kind "
                                  "(unavailable, rpc)", ["method", "kind"], registry=r)
        self.peers_connected = Gauge("otedama_peers_connected", "Connected sharechain peers", registry=r)
        self.peer_penalties = Counter("otedama_peer_penalties", "Penalties given to peers, by offense",
                                      ["offense"], registry=r)
        self.bans = Counter("otedama_bans", "Peers banned", registry=r)
        self.stratum_refusals = Counter("otedama_stratum_refusals", "What the Stratum server refused strangers, by "
                                        "reason (per-ip, banned, workers, auth-timeout, idle, submit-rate)",
                                        ["reason"], registry=r)
        self.stratum_bans = Counter("otedama_stratum_bans", "Miner IPs banned for repeated invalid work", registry=r)
        self.bans_active = Gauge("otedama_bans_active", "Bans in force", registry=r)
        self.sync_behind = Gauge("otedama_sync_behind", "1 while the sharechain is behind its peers (miners wait)",
                                 registry=r)
        self.sync_progress = Gauge("otedama_sync_progress_ratio", "Our sharechain height over the best peer's "
                                   "(1.0: in sync)", registry=r)
        self.sync_seconds = Histogram("otedama_sync_request_seconds", "Sync requests to peers, by message",
                                      ["message"], buckets=_NETWORK_LATENCY, registry=r)
        self.sync_failures = Counter("otedama_sync_request_failures", "Sync requests a peer did not answer usefully",
                                     ["message"], registry=r)
        self.gossip_delay = Histogram("otedama_gossip_delay_seconds", "Age of a gossiped share when it joined our "
                                      "sharechain (its timestamp to now)", buckets=_DELAY, registry=r)
        self.clock_skew = Gauge("otedama_clock_skew_seconds", "This node's clock minus its peers' (the median over "
                                "peers of their shares' timestamps; 0 before any)", registry=r)
        self.notifications = Counter("otedama_notifications", "Notifications, by channel and result (sent, failed, "
                                     "dropped)", ["channel", "result"], registry=r)
        self.start_time = Gauge("otedama_start_time_seconds", "When the node started (epoch seconds)", registry=r)
        self._scrape = _ScrapeCollector()
        r.register(self._scrape)
        self._readable = {"hashrate": self.hashrate, "miners": self.miners_active, "peers": self.peers_connected,
                          "connections": self.stratum_connections, "workers": self.stratum_workers,
                          "shares": self.sharechain_shares, "orphans": self.sharechain_orphans,
                          "tip_age": self.tip_age, "bans": self.bans_active, "sync_progress": self.sync_progress,
                          "clock_skew": self.clock_skew}
        self._effort = _Effort()
        self._clock: Callable[[], float] | None = None
        self._initialise()

    def _initialise(self) -> None:
        """Series that exist from the start at 0, so rate() and the dashboards see them before the first event."""
        for source in SOURCES:
            self.shares_accepted.labels(source)
            self.sharechain_work.labels(source)
        for outcome in OUTCOMES:
            self.local_outcomes.labels(outcome)
            self.sharechain_outcomes.labels(outcome)
        self.sync_progress.set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # --- events -------------------------------------------------------------------------------------
    def on_shares_accepted(self, event: SharesAccepted) -> None:
        source = event.source.kind.value
        self.shares_valid.inc(len(event.shares))
        self.shares_accepted.labels(source).inc(len(event.shares))
        now = self._clock() if self._clock is not None else None
        gossip = now is not None and event.source.kind is SourceKind.GOSSIP
        # Once per batch, not per share (a sync or a join brings them by the thousand); the work of
        # each share target (a few distinct ones in a batch) reckoned once.
        work_of: dict[int, int] = {}
        total_work = uncles = 0
        for share in event.shares:
            bits = share.info.share_bits
            work = work_of.get(bits)
            if work is None:
                work = work_of[bits] = work_from_target(bits_to_target(bits))
            total_work += work
            uncles += len(share.info.uncles)
            self._effort.add(share.hash, share.header.bits, work)
            if gossip:
                assert now is not None
                self.gossip_delay.observe(max(0.0, now - share.info.timestamp))
        self.sharechain_work.labels(source).inc(total_work)
        self.uncles.inc(uncles)
        self.effort.set(self._effort.ratio())

    def on_share_refused(self, event: ShareRefused) -> None:
        self.shares_invalid.inc()
        self.shares_refused.labels(event.source.kind.value, event.rejection.value).inc()


    def on_tip_changed(self, event: TipChanged) -> None:
        self.sharechain_height.set(event.tip.height)

    def on_template(self, event: TemplateChanged) -> None:
        target = event.template.target
        self._effort.block_work = work_from_target(target)
        self.network_difficulty.set((0xFFFF << 208) / target)
        self.effort.set(self._effort.ratio())

    def on_block_found(self, event: BlockFound) -> None:
        self.blocks_found.inc()

    def on_shares_settled(self, event: SharesSettled) -> None:
        """Shares' fates are final: counted for every share, and for our miners' own (one increment per
        outcome and event: a join settles thousands at a time)."""
        counts: dict[tuple[Fate, bool], int] = {}
        for settled in event.settled:
            key = (settled.fate, settled.source.kind is SourceKind.LOCAL)
            counts[key] = counts.get(key, 0) + 1
        for (fate, local), n in counts.items():
            if (children := self._outcome_children.get(fate.value)) is None:
                children = self._outcome_children[fate.value] = (self.sharechain_outcomes.labels(fate.value),
                                                                 self.local_outcomes.labels(fate.value))
            children[0].inc(n)
            if local:
                children[1].inc(n)

    def on_peer_penalized(self, event: PeerPenalized) -> None:
        self.peer_penalties.labels(event.offense).inc()

    def on_peer_banned(self, event: PeerBanned) -> None:
        self.bans.inc()

    def on_miner_refused(self, event: MinerRefused) -> None:
        self.stratum_refusals.labels(event.reason).inc(event.count)

    def on_miner_banned(self, event: MinerBanned) -> None:
        self.stratum_bans.inc()

    def on_chain_health(self, event: ChainHealthChanged) -> None:
        self.blockchain_connected.set(1 if event.health.healthy else 0)

    def on_rpc(self, event: RpcCalled) -> None:
        method = event.method if event.method in RPC_METHODS else "other"
        self.rpc_seconds.labels(method).observe(event.seconds)
        if event.error is not None:
            self.rpc_errors.labels(method, event.error if event.error in ("unavailable", "rpc") else "other").inc()

    def on_sync_state(self, event: SyncStateChanged) -> None:
        self.sync_behind.set(1 if event.behind else 0)

    def on_sync_request(self, event: SyncRequestDone) -> None:
        message = event.message if event.message in SYNC_MESSAGES else "other"
        self.sync_seconds.labels(message).observe(event.seconds)
        if not event.ok:
            self.sync_failures.labels(message).inc()

    def on_submits(self, event: SubmitsAnswered) -> None:
        self.submit_seconds.observe(event.seconds)

    def on_notification(self, channel: str, result: str) -> None:
        self.notifications.labels(channel, result).inc()

    # --- read at scrape time -------------------------------------------------------------------------
    def observe(self, **reads: Callable[[], float]) -> None:
        """Gauges read from the node's parts when scraped: ``hashrate``, ``miners``, ``peers``, ``connections``,
        ``workers``, ``shares``, ``orphans``, ``tip_age``, ``bans``, ``sync_progress``, ``clock_skew``."""
        for name, read in reads.items():
            if name not in self._readable:
                raise TypeError(f"observe() got an unknown reading {name!r}")
            self._readable[name].set_function(read)

    def observe_stratum(self, counts: Callable[[], SubmitCounts]) -> None:
        self._scrape.reads = replace(self._scrape.reads, stratum=counts)

    def observe_peers(self, directions: Callable[[], Mapping[str, int]]) -> None:
        self._scrape.reads = replace(self._scrape.reads, peers=directions)

    def observe_store(self, health: Callable[[], StoreHealth]) -> None:
        self._scrape.reads = replace(self._scrape.reads, store=health)

    def use_clock(self, clock: Callable[[], float]) -> None:
        """The wall clock (epoch seconds) the gossip delay is measured with; also records the start time."""
        self._clock = clock
        self.start_time.set(clock())

    def families(self) -> dict[str, Any]:
        """Name -> type of every metric family this node exports (for tests and docs)."""
        return {metric.name: metric.type for metric in self.registry.collect()}


class _Effort:
    """Work of every share since the last one whose proof of work was also a Bitcoin block."""

    def __init__(self) -> None:
        self.since_block = 0
        self.block_work = 0

    def add(self, share_hash: bytes, block_bits: int, work: int) -> None:
        if hash_to_int(share_hash) <= bits_to_target(block_bits):
            self.since_block = 0
        else:
            self.since_block += work

    def ratio(self) -> float:
        return self.since_block / self.block_work if self.block_work else 0.0

