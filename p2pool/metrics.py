"""Prometheus metrics of one node, on a registry of its own (several nodes can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


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
        self.stratum_rejects = Counter("otedama_stratum_rejects", "Stratum submits refused, by reason",
                                       ["reason"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
