"""In-process federations for functional tests: real nodes (store, sharechain, libp2p host on
127.0.0.1, Stratum, API) in one trio run, sharing one dev chain, driven through their public parts.

In the manner of Bitcoin Core's framework: a test states its topology (:func:`connect_nodes`), then
waits on observable state (:func:`sync_sharechains`, :func:`wait_for`), never on fixed sleeps. Every
wait is scaled by ``OTEDAMA_TIMEOUT_FACTOR``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from miner.miner import MinerConfig, run_miner
from p2pool.config import node_config
from p2pool.devchain.server import serve_devchain
from p2pool.devchain.service import DevchainConfig
from p2pool.node import Node
from p2pool.p2p.host import parse_peer
from p2pool.p2p.sync_client import SyncConfig
from p2pool.stratum.submit import SubmitError
from sharechain.bitcoin.address import script_to_address
from sharechain.bitcoin.target import target_from_work, target_to_bits
from sharechain.params import NetworkParams, network
from sharechain.pplns import split_reward
from sharechain.share import ShareInfo
from tests.fixtures.solve import solve_job
from tests.functional.framework import TIMEOUT_FACTOR
from tests.functional.sharegen import payout_script, store_shares

# Dev chain blocks of about 2^26 hashes: with shares at ~2 s, some shares are blocks, not all.
BLOCK_BITS = target_to_bits(target_from_work(1 << 26))


async def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    with trio.move_on_after(timeout * TIMEOUT_FACTOR):
        while not (value := predicate()):
            await trio.sleep(0.05)
        return value
    raise AssertionError(f"timed out after {timeout * TIMEOUT_FACTOR:.0f} s waiting for {what}")


def tip(node: Node) -> bytes | None:
    assert node.chain is not None
    record = node.chain.tip
    return record.hash if record else None


def share_set(node: Node) -> set[bytes]:
    assert node.chain is not None
    return {r.hash for r in node.chain.records()}


async def sync_sharechains(nodes: Sequence[Node], timeout: float = 60, *, all_shares: bool = True) -> bytes:
    """Wait until every node has the same tip (and, with ``all_shares``, the very same set of shares)."""

    def same() -> bool:
        tips = {tip(n) for n in nodes}
        if len(tips) != 1 or None in tips:
            return False
        return not all_shares or len({frozenset(share_set(n)) for n in nodes}) == 1

    def describe() -> str:
        return "; ".join(f"{peer_id(n)[-6:]}: tip {n.chain.tip.height if n.chain.tip else None} "
                         f"{(tip(n) or b'').hex()[:8]}, {len(share_set(n))} shares, peers {n.p2p.peers.connected()}"
                         for n in nodes if n.chain and n.p2p)

    try:
        await wait_for(same, f"{len(nodes)} sharechains to agree", timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {describe()}") from None
    result = tip(nodes[0])
    assert result is not None
    return result


async def submit(node: Node, n: int) -> tuple[bytes, SubmitError | None]:
    """One share found by ``node``'s own work provider (a real proof of work), paid to miner ``n``: its hash
    and what the miner is answered (None: accepted)."""
    job = await wait_for(lambda: node.work.job_for(payout_script(n)) if node.work else None, "a job")
    solution = solve_job(job, payout_script(n), extranonce2=n)
    assert node.work is not None
    return solution.hash, node.work.take(solution)


async def mine_share(node: Node, n: int) -> bytes:
    share_hash, refused = await submit(node, n)
    assert refused is None and node.chain is not None and share_hash in node.chain
    return share_hash


def p2p_addr(node: Node) -> str:
    assert node.endpoints is not None and node.endpoints.p2p_addrs
    return node.endpoints.p2p_addrs[0]


def peer_id(node: Node) -> str:
    assert node.p2p is not None
    return node.p2p.peer_id


async def connect_nodes(a: Node, b: Node, timeout: float = 30) -> None:
    """``a`` dials ``b``; returns once each lists the other as a peer."""
    assert a.p2p is not None and b.p2p is not None
    assert await a.p2p.peers.connect(parse_peer(p2p_addr(b)), "test"), f"could not connect {peer_id(a)} to {peer_id(b)}"
    pa, pb = a.p2p.peers, b.p2p.peers
    await wait_for(lambda: peer_id(b) in pa.connected() and peer_id(a) in pb.connected(),
                   "both ends to see the connection", timeout)


def expected_payouts(node: Node, block: dict) -> list[list]:
    """What ``node`` computes, from its own sharechain, that the share behind ``block`` must pay."""
    from sharechain.bitcoin.serialize import ByteReader

    assert node.chain is not None
    info = ShareInfo.read(ByteReader(bytes.fromhex(block["share_info"])))
    params = node.params
    payouts = split_reward(block["value"], node.chain.candidate_weights(info), info.payout_script, params)
    return [[script_to_address(s, params.address_format), v] for s, v in payouts]


@dataclass
class Federation:
    """Nodes and miners in one nursery, on one dev chain served in-process."""

    root: Path
    nursery: trio.Nursery
    chain_url: str = ""
    nodes: list[Node] = field(default_factory=list)
    miners: dict[int, trio.CancelScope] = field(default_factory=dict)
    scopes: dict[int, trio.CancelScope] = field(default_factory=dict)
    stopped: dict[int, trio.Event] = field(default_factory=dict)

    async def add_node(self, *bootstrap: Node, shares: Sequence = (), network_name: str = "devnet",
                       p2p: dict[str, Any] | None = None, name: str | None = None, seed: bool = False,
                       datadir: Path | None = None, params: NetworkParams | None = None,
                       clock: Callable[[], float] = time.time, **overrides: Any) -> Node:
        """Start a node (no built-in miner; see :meth:`mine`) with ``shares`` already in its store; ``clock``
        is its wall clock (a skewed one for clock tests: the system clock is never changed)."""
        index = len(self.nodes)
        datadir = datadir or self.root / (name or f"node{index}")
        if shares:
            store_shares(datadir / "sharechain", list(shares), params or network(network_name))
        config = node_config(network=network_name, datadir=datadir, bitcoind=None if seed else self.chain_url,
                             stratum="127.0.0.1:0", api="127.0.0.1:0", p2p=["/ip4/127.0.0.1/tcp/0"],
                             bootstrap=[p2p_addr(b) for b in bootstrap], no_miner=True, seed=seed,
                             stratum_submit_interval=2.0, **overrides)
        tuning = {"sync": SyncConfig(tip_interval=2.0, reconcile_interval=2.0), **(p2p or {})}
        self.nodes.append(Node(config, p2p_tuning=tuning, params=params, clock=clock))
        await self._start(index)
        return self.nodes[index]

    async def _start(self, index: int) -> None:
        self.scopes[index] = trio.CancelScope()
        self.stopped[index] = trio.Event()
        with trio.fail_after(60 * TIMEOUT_FACTOR):  # a node that never comes up fails here, naming the step
            await self.nursery.start(self._run_node, index)

    async def _run_node(self, index: int, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with self.scopes[index]:
                await self.nodes[index].run(task_status=task_status)
        finally:
            self.stopped[index].set()

    async def restart_node(self, node: Node) -> Node:
        """Stop ``node`` (cleanly, as on SIGTERM) and start it again on the same data directory."""
        index = self.nodes.index(node)
        self.stop_node(node)
        with trio.fail_after(60 * TIMEOUT_FACTOR):  # a node that does not stop fails here, not at pytest's timeout
            await self.stopped[index].wait()
        self.nodes[index] = Node(node.config, p2p_tuning=node.p2p_tuning, params=node.params, clock=node.clock)
        await self._start(index)
        return self.nodes[index]

    def stop_node(self, node: Node) -> None:
        index = self.nodes.index(node)
        if index in self.miners:
            self.miners.pop(index).cancel()
        self.scopes[index].cancel()

    def mine(self, node: Node, address: str, threads: int = 1) -> None:
        """A built-in miner on ``node``'s Stratum port, paid to ``address``."""
        assert node.endpoints is not None
        index = self.nodes.index(node)
        scope = trio.CancelScope()
        self.miners[index] = scope
        config = MinerConfig(url=f"stratum+tcp://127.0.0.1:{node.endpoints.stratum_port}", user=address,
                             threads=threads, kernel="numba", report_interval=3600)
        self.nursery.start_soon(self._run_miner, scope, config)

    async def _run_miner(self, scope: trio.CancelScope, config: MinerConfig) -> None:
        with scope:
            await run_miner(config)

    async def stop_mining(self) -> None:
        """Stop every miner and wait until no node has one connected, so that no share is still on its way."""
        for scope in self.miners.values():
            scope.cancel()
        self.miners.clear()
        await wait_for(lambda: all(n.sources is None or n.status()["miners_connected"] == 0 for n in self.nodes),
                       "the miners to disconnect")


@asynccontextmanager
async def federation(root: Path, *, block_bits: int = BLOCK_BITS) -> AsyncIterator[Federation]:
    """A dev chain on 127.0.0.1 and an empty federation on it; everything stops on the way out."""
    async with trio.open_nursery() as nursery:
        chain = DevchainConfig(datadir=root / "devchain", host="127.0.0.1", port=0, bits=block_bits,
                               longpoll_timeout=5.0)
        port = await nursery.start(serve_devchain, chain)
        yield Federation(root, nursery, f"http://127.0.0.1:{port}")
        nursery.cancel_scope.cancel()
