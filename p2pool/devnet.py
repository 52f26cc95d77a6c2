"""``otedama devnet``: a local federation to watch, in one process.

One dev chain served on 127.0.0.1, then N nodes on it, each with its own data directory (so its own
payout address and identity) and built-in miner. Node 0 is every other node's bootstrap peer; the
others find each other by peer exchange. Every log line names its node (``[node1]``), the dev chain
(``[devchain]``) or the federation (``[devnet]``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from p2pool.config import NodeConfig, node_config
from p2pool.devchain.server import serve_devchain
from p2pool.devchain.service import DevchainConfig
from p2pool.logs import NODE_NAME
from p2pool.node import Node, NodeEndpoints

log = logging.getLogger("otedama.devnet")


@dataclass(frozen=True)
class DevnetConfig:
    nodes: int
    datadir: Path
    # Node i uses base+3i (Stratum), base+3i+1 (API), base+3i+2 (P2P); the dev chain base-1. 0: any free ports.
    base_port: int = 19400
    devchain_bits: int | None = None
    miner_threads: int = 1
    log_level: str = "info"

    def port(self, offset: int) -> int:
        return self.base_port + offset if self.base_port else 0


def devnet_node_config(config: DevnetConfig, i: int, chain_url: str, bootstrap: list[str]) -> NodeConfig:
    return node_config(network="devnet", datadir=config.datadir / f"node{i}", bitcoind=chain_url,
                       stratum=f"127.0.0.1:{config.port(3 * i)}", api=f"127.0.0.1:{config.port(3 * i + 1)}",
                       p2p=[f"/ip4/127.0.0.1/tcp/{config.port(3 * i + 2)}"], bootstrap=bootstrap,
                       miner_threads=config.miner_threads, log_level=config.log_level)


async def run_devnet(config: DevnetConfig, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Serve the dev chain and run the nodes until cancelled; ``started()`` gets the running nodes."""
    chain_config = DevchainConfig(datadir=config.datadir / "devchain", host="127.0.0.1", port=config.port(-1))
    if config.devchain_bits:
        chain_config = DevchainConfig(datadir=chain_config.datadir, host="127.0.0.1", port=config.port(-1),
                                      bits=config.devchain_bits)
    NODE_NAME.set("devnet")
    async with trio.open_nursery() as nursery:
        chain_port = await nursery.start(_named, "devchain", serve_devchain, chain_config)
        chain_url = f"http://127.0.0.1:{chain_port}"
        nodes: list[Node] = []
        seeds: list[str] = []
        for i in range(config.nodes):
            node = Node(devnet_node_config(config, i, chain_url, seeds[:1]), name=f"node{i}")
            endpoints: NodeEndpoints = await nursery.start(node.run)
            seeds += list(endpoints.p2p_addrs[:1])
            nodes.append(node)
        log.info("devnet: %d nodes on the dev chain at %s", len(nodes), chain_url)
        for i, node in enumerate(nodes):
            assert node.endpoints is not None
            log.info("  node%d: API http://127.0.0.1:%d/api/status  Stratum 127.0.0.1:%d  peer %s", i,
                     node.endpoints.api_port, node.endpoints.stratum_port, node.endpoints.peer_id)
        task_status.started(nodes)


async def _named(name: str, serve: Callable[..., Awaitable[None]], *args: Any,
                 task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Run ``serve`` with its log lines named ``name``."""
    NODE_NAME.set(name)
    await serve(*args, task_status=task_status)
