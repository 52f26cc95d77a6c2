"""The composition root: builds every part of a node and runs them in one nursery.

Parts: the share store and sharechain, the chain backend (bitcoind over JSON-RPC, or the embedded dev
chain served on 127.0.0.1 and reached the same way), the template monitor, the Stratum server, the
HTTP API and, unless disabled, the built-in miner connected to our own Stratum port.
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


class Node:
    def __init__(self, config: NodeConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.params = network(config.network)
        self.clock = clock
        self.metrics = NodeMetrics()
        self.datadir = config.resolved_datadir()
        self.pool: Pool | None = None
        self.endpoints: NodeEndpoints | None = None

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        config = self.config
        self.datadir.mkdir(parents=True, exist_ok=True)
        payout_address = resolve_payout_address(config, self.params, self.datadir)
        store = open_store(self.datadir / "sharechain", self.params, reindex_requested=config.reindex)
        try:
            chain = self._load(store)
            async with trio.open_nursery() as nursery:
                rpc_url = config.bitcoind or await self._start_devchain(nursery)
                async with BitcoindClient(rpc_url, cookie_file=config.bitcoind_cookie) as backend:
                    pool = Pool(self.params, chain, store, backend, self.metrics, clock=self.clock)
                    self.pool = pool
                    stratum = StratumServer(pool, self._stratum_config())
                    pool.attach_stratum(stratum)
                    nursery.start_soon(pool.run_monitor)
                    host, port = config.stratum_endpoint()
                    stratum_port = await nursery.start(stratum.serve, host, port)
                    api = Api(pool.status, pool.problems, self.metrics)
                    api_host, api_port = config.api_endpoint()
                    api_port = await nursery.start(serve_http, api.handle, api_host, api_port)
                    nursery.start_soon(pool.run_stats)
                    self.endpoints = NodeEndpoints(stratum_port, api_port, _redact(rpc_url))
                    log.info("otedama %s node: stratum on %s:%d, API on http://%s:%d, chain %s, datadir %s",
                             self.params.name, host, stratum_port, api_host, api_port, _redact(rpc_url), self.datadir)
                    if config.miner:
                        await self._start_miner(nursery, stratum_port, payout_address)
                    task_status.started(self.endpoints)
                    await trio.sleep_forever()
        finally:
            store.close()

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
