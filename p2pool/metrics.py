"""Prometheus metrics of one node, on a registry of its own (several nodes can share a process).

Counters follow the node's events (the composition root subscribes the ``on_*`` methods); gauges
that are sampled rather than counted are read from the parts at scrape time (:meth:`NodeMetrics.observe`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from p2pool.events import (
    BlockFound,
    ChainHealthChanged,
    PeerPenalized,
    ShareRefused,
    SharesAccepted,
    ShareSettled,
    SourceKind,
    TipChanged,
)


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.hashrate = Gauge("otedama_hashrate_total", "Hash rate of this node's miners (hashes/s)", registry=r)
        self.miners_active = Gauge("otedama_miners_active", "Authorized Stratum connections", registry=r)
        self.shares_valid = Counter("otedama_shares_valid", "Shares accepted into the sharechain", registry=r)
        self.shares_invalid = Counter("otedama_shares_invalid", "Shares refused by consensus rules", registry=r)
        self.blocks_found = Counter("otedama_blocks_found", "Blocks found and accepted by the chain backend",
                                    registry=r)
        self.peers_connected = Gauge("otedama_peers_connected", "Connected sharechain peers", registry=r)
        self.blockchain_connected = Gauge("otedama_blockchain_connected",
                                          "1 while the chain backend answers, else 0", registry=r)
        self.sharechain_height = Gauge("otedama_sharechain_height", "Height of the sharechain tip", registry=r)
        self._rejects = _RejectsByReason()
        r.register(self._rejects)
        self.shares_settled = Counter("otedama_shares_settled", "Shares whose fate is final, by origin (this "
                                      "node's miners, or any) and fate (main, uncle, orphan)", ["origin", "fate"],
                                      registry=r)
        self.peer_penalties = Counter("otedama_peer_penalties", "Penalties given to peers, by offense",
                                      ["offense"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # --- events -------------------------------------------------------------------------------------
    def on_shares_accepted(self, event: SharesAccepted) -> None:
        self.shares_valid.inc(len(event.shares))

    def on_share_refused(self, event: ShareRefused) -> None:
        self.shares_invalid.inc()

    def on_tip_changed(self, event: TipChanged) -> None:
        self.sharechain_height.set(event.tip.height)

    def on_block_found(self, event: BlockFound) -> None:
        self.blocks_found.inc()

    def on_share_settled(self, event: ShareSettled) -> None:
        self.shares_settled.labels("network", event.fate.value).inc()
        if event.source.kind is SourceKind.LOCAL:
            self.shares_settled.labels("local", event.fate.value).inc()

    def on_peer_penalized(self, event: PeerPenalized) -> None:
        self.peer_penalties.labels(event.offense).inc()

    def on_chain_health(self, event: ChainHealthChanged) -> None:
        self.blockchain_connected.set(1 if event.health.healthy else 0)

    def observe_rejects(self, read: Callable[[], Mapping[str, int]]) -> None:
        """Stratum rejects by reason, read from the server's counters when scraped (not counted per submit)."""
        self._rejects.read = read

    def observe(self, *, hashrate: Callable[[], float] | None = None, miners: Callable[[], float] | None = None,
                peers: Callable[[], float] | None = None) -> None:
        """Gauges read from the node's parts when scraped rather than counted from events."""
        for gauge, read in ((self.hashrate, hashrate), (self.miners_active, miners), (self.peers_connected, peers)):
            if read is not None:
                gauge.set_function(read)


class _RejectsByReason(Collector):
    """``otedama_stratum_rejects_total{reason}``: the reasons are the Stratum server's fixed set."""

    def __init__(self) -> None:
        self.read: Callable[[], Mapping[str, int]] = dict

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("otedama_stratum_rejects", "Stratum submits refused, by reason", labels=["reason"])
        for reason, count in sorted(self.read().items()):
            family.add_metric([reason], count)
        yield family
