"""The composition root: builds every part of a node and runs them in one nursery.

Parts: the share store and sharechain, the P2P service (gossip, sync and peers over libp2p), the
chain backend (bitcoind over JSON-RPC, or the embedded dev chain served on 127.0.0.1 and reached the
same way), the template monitor, the Stratum server, the HTTP API and, unless disabled, the built-in
miner connected to our own Stratum port. A seed node (``otedama bootstrap``) runs only the store,
the sharechain, the P2P service and the API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import trio

from p2pool.api import Api
from p2pool.chain.rpc import BitcoindClient
from p2pool.config import ConfigError, NodeConfig
from p2pool.http.server import serve_http
from p2pool.metrics import NodeMetrics
from p2pool.p2p.banlist import BanListError
from p2pool.p2p.discovery import DiscoveryConfig
from p2pool.p2p.host import AddressError as HostAddressError
from p2pool.p2p.limits import LimitConfig
from p2pool.p2p.peers import PeerConfig
from p2pool.p2p.peerstore import AddressError, PeerStoreError
from p2pool.p2p.service import P2PConfig, P2PService
from p2pool.payout_address import resolve_payout_address
from p2pool.pool import Pool
from p2pool.stratum.server import StratumConfig, StratumServer
from sharechain.loader import load_chain, open_store, reindex
from sharechain.params import network

log = logging.getLogger("otedama.node")


@dataclass(frozen=True)
class NodeEndpoints:
    """Where a started node listens (ports actually bound, useful when 0 was asked for)."""

    stratum_port: int
    api_port: int
    bitcoind_url: str
    peer_id: str | None = None
    p2p_addrs: tuple[str, ...] = ()


class Node:
    def __init__(self, config: NodeConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.params = network(config.network)
        self.clock = clock
        self.metrics = NodeMetrics()
        self.datadir = config.resolved_datadir()
        self.pool: Pool | None = None
        self.p2p: P2PService | None = None
        self.endpoints: NodeEndpoints | None = None

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        config = self.config
        self.datadir.mkdir(parents=True, exist_ok=True)
        payout_address = "" if config.seed else resolve_payout_address(config, self.params, self.datadir)
        store = open_store(self.datadir / "sharechain", self.params, reindex_requested=config.reindex)
        try:
            chain = self._load(store)
            async with trio.open_nursery() as nursery:
                if config.seed:
                    await self._run_seed(nursery, chain, store, task_status)
                rpc_url = config.bitcoind or await self._start_devchain(nursery)
                async with BitcoindClient(rpc_url, cookie_file=config.bitcoind_cookie) as backend:
                    pool = Pool(self.params, chain, store, backend, self.metrics, clock=self.clock,
                                wait_while_syncing=config.sync_wait)
                    self.pool = pool
                    addrs = await self._start_p2p(nursery, pool)
                    stratum = StratumServer(pool, self._stratum_config())
                    pool.attach_stratum(stratum)
                    nursery.start_soon(pool.run_monitor)
                    host, port = config.stratum_endpoint()
                    stratum_port = await nursery.start(stratum.serve, host, port)
                    api_host, api_port = await self._start_api(nursery, pool)
                    nursery.start_soon(pool.run_stats)
                    self.endpoints = NodeEndpoints(stratum_port, api_port, _redact(rpc_url),
                                                   self.p2p.peer_id if self.p2p else None, addrs)
                    log.info("otedama %s node: stratum on %s:%d, API on http://%s:%d, chain %s, datadir %s",
                             self.params.name, host, stratum_port, api_host, api_port, _redact(rpc_url), self.datadir)
                    if config.miner:
                        await self._start_miner(nursery, stratum_port, payout_address)
                    task_status.started(self.endpoints)
                    await trio.sleep_forever()
        finally:
            store.close()

    async def _run_seed(self, nursery: trio.Nursery, chain: Any, store: Any, task_status: Any) -> None:
        pool = Pool(self.params, chain, store, None, self.metrics, clock=self.clock)
        self.pool = pool
        addrs = await self._start_p2p(nursery, pool)
        api_host, api_port = await self._start_api(nursery, pool)
        nursery.start_soon(pool.run_stats)
        self.endpoints = NodeEndpoints(0, api_port, "", self.p2p.peer_id if self.p2p else None, addrs)
        log.info("otedama %s seed node: API on http://%s:%d, datadir %s (no chain backend, no miners)",
                 self.params.name, api_host, api_port, self.datadir)
        task_status.started(self.endpoints)
        await trio.sleep_forever()

    async def _start_api(self, nursery: trio.Nursery, pool: Pool) -> tuple[str, int]:
        api = Api(pool.status, pool.problems, self.metrics, self.p2p.control if self.p2p else None)
        api_host, api_port = self.config.api_endpoint()
        return api_host, await nursery.start(serve_http, api.handle, api_host, api_port)

    async def _start_p2p(self, nursery: trio.Nursery, pool: Pool) -> tuple[str, ...]:
        """Start the P2P service before miners connect, so that a node behind its peers holds them back."""
        config = self.config
        if not config.p2p:
            return ()
        limits = LimitConfig(max_per_ip=config.max_per_ip, max_per_subnet=config.max_per_subnet)
        peers = PeerConfig(target_outbound=config.max_outbound, max_inbound=config.max_inbound, limits=limits)
        p2p_config = P2PConfig(listen=tuple(config.p2p), bootstrap=tuple(config.peers_to_dial()), peers=peers,
                               announce=tuple(config.announce), discovery=DiscoveryConfig(enabled=config.dht))
        # Tuning for tests and benchmarks (timers, limits): NodeConfig.extra["p2p"] overrides fields.
        p2p_config = replace(p2p_config, **config.extra.get("p2p", {}))
        try:
            self.p2p = P2PService(self.params, pool, self.datadir, p2p_config, self.metrics)
        except (AddressError, HostAddressError, PeerStoreError, BanListError) as exc:
            raise ConfigError(str(exc)) from None
        addrs = await nursery.start(self.p2p.run)
        return tuple(addrs)

    def _load(self, store: Any) -> Any:
        if self.config.reindex:
            chain, report = reindex(store, self.params)
            log.info("reindex: kept %d shares, dropped %d", report.kept, len(report.dropped))
            for share_hash, reason in report.dropped:
                log.warning("reindex dropped share %s: %s", share_hash, reason)
            return chain
        started = time.perf_counter()
        chain = load_chain(store, self.params)
        tip = chain.tip
        log.info("sharechain loaded: %d shares, tip %s at height %s (%.2f s)", len(chain),
                 tip.hash[::-1].hex() if tip else "none", tip.height if tip else "-", time.perf_counter() - started)
        return chain

    async def _start_devchain(self, nursery: trio.Nursery) -> str:
        from p2pool.devchain.server import serve_devchain
        from p2pool.devchain.service import DevchainConfig

        devchain_config = DevchainConfig(datadir=self.datadir / "devchain", host="127.0.0.1", port=0)
        if self.config.devchain_bits:
            devchain_config = replace(devchain_config, bits=self.config.devchain_bits)
        port = await nursery.start(serve_devchain, devchain_config)
        return f"http://127.0.0.1:{port}"

    async def _start_miner(self, nursery: trio.Nursery, stratum_port: int, payout_address: str) -> None:
        from miner.miner import MinerConfig, run_miner

        miner_config = MinerConfig(url=f"stratum+tcp://127.0.0.1:{stratum_port}", user=payout_address,
                                   threads=self.config.miner_threads,
                                   kernel="opencl" if self.config.miner_opencl else "auto")
        await nursery.start(run_miner, miner_config)

    def _stratum_config(self) -> StratumConfig:
        host, port = self.config.stratum_endpoint()
        config = StratumConfig(host=host, port=port, target_submit_interval=self.config.stratum_submit_interval)
        if self.config.stratum_difficulty:
            config = StratumConfig(host=host, port=port, initial_difficulty=self.config.stratum_difficulty,
                                   target_submit_interval=self.config.stratum_submit_interval)
        return config


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


__all__ = ["ConfigError", "Node", "NodeEndpoints"]
