"""Uncles and fairness under network delay (issue #9): several real nodes, real gossip, a delay added
on every link, miners of very different hash rates, many blocks.

Usage: .venv/bin/python -m benchmarks.uncle_sim [--delays 50,200,500] [--rates 1,4,16] [--unit 40000]
       [--duration 300] [--block-work 22] [--min-share-work 19] [--chunk-seconds 0.25]

One node per entry of ``--rates``, in one trio run, on one dev chain served in-process (blocks of
2^block-work hashes). Every pair of nodes is linked through a :mod:`tests.functional.delay_proxy`
(``--delays`` ms each way), so libp2p, gossip and sync all cross the delay; peer exchange and the
DHT are off, so nobody finds a direct path around it. Each node has one built-in miner (the real
Stratum client and numba kernel) paced to ``rate * --unit`` hashes per second; they begin hashing
together, once every one has work. The network is devnet
with an easier minimum share difficulty (2^min-share-work), so the first shares are not a burst at
devnet's minimum before the retarget catches up.

After ``--duration`` s of mining the miners stop and the nodes sync; then, from the real chain
state: shares made, their fates (main chain, uncle, orphan: in neither; the top ``uncle_depth``
heights are still pending), the blocks on the dev chain and, per miner, its share of the hashes
tried against its share of every coinbase, with the spread and z-score of :mod:`benchmarks.fairness`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import os
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import trio

from benchmarks.fairness import BlockWindow, MinerFairness, exposures, fairness, share_weights
from benchmarks.paced_scanner import PacedScanner
from kernels.factory import make_scanner
from miner.miner import Miner, MinerConfig
from p2pool.chain.rpc import BitcoindClient
from p2pool.node import Node
from p2pool.p2p.host import parse_peer
from p2pool.p2p.peers import PeerConfig
from sharechain.bitcoin.address import address_to_script, encode_segwit
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import hash160
from sharechain.bitcoin.target import target_from_work, target_to_bits
from sharechain.fate import Fate, fates
from sharechain.params import DEVNET, NetworkParams
from tests.functional.delay_proxy import ProxyStats, serve_delay_proxy
from tests.functional.federation import Federation, federation, p2p_addr, peer_id, share_set, sync_sharechains, wait_for


@dataclass(frozen=True)
class SimConfig:
    delay: float  # seconds added each way on every link
    rates: tuple[float, ...]  # hashes per second of the miner on each node
    duration: float  # seconds of mining
    block_work: int = 1 << 22
    min_share_work: int = 1 << 19
    # The built-in miner's chunk length: it picks up a new (not clean) job between chunks.
    chunk_seconds: float = MinerConfig.chunk_seconds


@dataclass
class SimResult:
    config: SimConfig
    made: int
    fates: Counter[Fate]
    pending: int  # shares the top uncle_depth heights hold: their fate can still change
    local_total: int  # shares the nodes' own miners made, as the nodes counted them
    blocks: int
    blocks_paid_as_computed: int  # coinbases equal to what the chain computes for their share
    miners: list[MinerFairness]
    shares_by_miner: dict[str, Counter[Fate]]
    proxy: ProxyStats
    fates_agree: bool  # every node's chain gives every share the same fate
    submits: dict[str, tuple[int, int]]  # per miner: pseudo-shares the node accepted, rejected
    # Orphans by cause: "side parent" (built on a share off the main chain, so never branching off
    # it: no share may include it) or "not included" (branching off, yet no share took it in time).
    orphan_causes: Counter[str] = field(default_factory=Counter)
    stale_blocks: int = 0  # blocks from a solution whose share no chain took (not in ``blocks``)
    load: tuple[float, float, float] = field(default_factory=os.getloadavg)

    @property
    def settled(self) -> int:
        return sum(self.fates.values())

    @property
    def orphan_rate(self) -> float:
        return self.fates[Fate.ORPHAN] / self.settled if self.settled else 0.0


def sim_params(min_share_work: int) -> NetworkParams:
    return replace(DEVNET, max_share_target=target_from_work(min_share_work))


def miner_address(index: int) -> str:
    return encode_segwit(DEVNET.address_format.bech32_hrp, 0, hash160(b"uncle-sim" + bytes([index])))


async def link(fed: Federation, a: Node, b: Node, delay: float, stats: ProxyStats) -> None:
    """``a`` dials ``b`` through a delay proxy; returns once each lists the other as a peer."""
    assert a.p2p is not None and b.p2p is not None
    direct = p2p_addr(b)
    port = int(direct.split("/tcp/")[1].split("/")[0])
    proxy_port = await fed.nursery.start(serve_delay_proxy, port, delay, stats)
    through = direct.replace(f"/tcp/{port}/", f"/tcp/{proxy_port}/")
    assert await a.p2p.peers.connect(parse_peer(through), "uncle-sim"), f"could not dial {through}"
    pa, pb = a.p2p.peers, b.p2p.peers
    await wait_for(lambda: peer_id(b) in pa.connected() and peer_id(a) in pb.connected(), "a delayed link", 60)


def miner_name(index: int, rates: tuple[float, ...]) -> str:
    return f"node{index} ({rates[index] / min(rates):g}x)"


def _start_miners(fed: Federation, nodes: list[Node], scanners: list[PacedScanner],
                  chunk_seconds: float) -> tuple[list[Miner], list[trio.CancelScope]]:
    """A built-in miner on each node's Stratum port, paid to its own address, hashing with its scanner."""
    miners, scopes = [], []
    for i, (node, scanner) in enumerate(zip(nodes, scanners, strict=True)):
        assert node.endpoints is not None
        config = MinerConfig(url=f"stratum+tcp://127.0.0.1:{node.endpoints.stratum_port}", user=miner_address(i),
                             threads=1, report_interval=3600, chunk_seconds=chunk_seconds)
        miners.append(Miner(config, scanner))
        scopes.append(trio.CancelScope())
        fed.nursery.start_soon(_mine, scopes[-1], miners[-1])
    return miners, scopes


async def _mine(scope: trio.CancelScope, miner: Miner) -> None:
    with scope:
        await miner.run()


async def paid_blocks(fed: Federation, nodes: list[Node], chain_node: Node) -> tuple[list[BlockWindow], Counter[bytes], int,
                                                                               int]:
    """Every block on the dev chain: its window by share, what its coinbase paid each script, how many
    paid exactly what the sharechain computes for the share behind them, and how many blocks came from
    stale work (a solution good enough for a block whose share the sharechain refused: the block is
    submitted all the same, and left out of the fairness figures, which are about the sharechain)."""
    chain = chain_node.chain
    assert chain is not None
    found = {b.hash: b for n in nodes if n.found is not None for b in n.found.all()}
    windows: list[BlockWindow] = []
    paid: Counter[bytes] = Counter()
    as_computed = stale = 0
    async with BitcoindClient(fed.chain_url) as rpc:
        for height in range(1, await rpc.getblockcount() + 1):
            block_hash = await rpc.getblockhash(height)
            coinbase = Block.parse(bytes.fromhex(await rpc.getblock(block_hash, 0))).transactions[0]
            outputs = [(o.script_pubkey, o.value) for o in coinbase.outputs if o.value > 0]
            share_hash = bytes.fromhex(found[block_hash].share)[::-1]
            # (a side share that no share included need not have reached every node)
            holder = next((n.chain for n in [chain_node, *nodes] if n.chain is not None and share_hash in n.chain), None)
            if holder is None:
                stale += 1
                continue
            value = sum(v for _, v in outputs)
            windows.append(BlockWindow(value, share_hash, share_weights(holder, share_hash)))
            as_computed += sorted(outputs) == sorted(holder.payouts(share_hash, value))
            for script, v in outputs:
                paid[script] += v
    return windows, paid, as_computed, stale


async def simulate(root: Path, config: SimConfig) -> SimResult:
    params = sim_params(config.min_share_work)
    stats = ProxyStats()
    async with federation(root, block_bits=target_to_bits(target_from_work(config.block_work))) as fed:
        tuning = {"peers": PeerConfig(peer_exchange=False)}
        nodes = [await fed.add_node(params=params, p2p=tuning, no_dht=True) for _ in config.rates]
        for a, b in itertools.combinations(nodes, 2):
            await link(fed, a, b, config.delay, stats)
        gate = threading.Event()
        scanners = [PacedScanner(make_scanner("numba", threads=1), rate, gate) for rate in config.rates]
        miners, scopes = _start_miners(fed, nodes, scanners, config.chunk_seconds)
        try:
            await wait_for(lambda: all(m.plan is not None for m in miners), "every miner to have work", 60)
        finally:
            gate.set()  # a scan thread waiting on it must not outlive the run
        await trio.sleep(config.duration)  # the run's length: mining, not a wait on state
        for scope in scopes:
            scope.cancel()
        await wait_for(lambda: all(n.status()["miners_connected"] == 0 for n in nodes), "the miners to stop")
        await sync_sharechains(nodes, timeout=120)
        result = await _measure(fed, nodes, scanners, config, stats)
        result.submits = {miner_name(i, config.rates): (m.accepted, m.rejected) for i, m in enumerate(miners)}
        return result


async def _measure(fed: Federation, nodes: list[Node], scanners: list[PacedScanner], config: SimConfig,
                   stats: ProxyStats) -> SimResult:
    chain = nodes[0].chain
    assert chain is not None
    shares = share_set(nodes[0])
    settled = fates(chain, shares)
    agree = all(n.chain is not None and fates(n.chain, shares) == settled for n in nodes)
    causes: Counter[str] = Counter()
    for share_hash in (h for h, fate in settled.items() if fate is Fate.ORPHAN):
        record = chain.get(share_hash)
        assert record is not None
        on_main = chain.main_line.at(record.height - 1) == record.prev_hash
        causes["not included" if on_main else "side parent"] += 1
    scripts = [address_to_script(miner_address(i), DEVNET.address_format) for i in range(len(nodes))]
    names = {script: miner_name(i, config.rates) for i, script in enumerate(scripts)}
    by_miner: dict[str, Counter[Fate]] = {name: Counter() for name in names.values()}
    for share_hash, fate in settled.items():
        record = chain.get(share_hash)
        assert record is not None
        by_miner[names[record.payout_script]][fate] += 1
    local_total = 0
    for node in nodes:
        assert node.fates is not None
        local = node.fates.summary()["local"]
        local_total += sum(local.values())
    windows, paid, as_computed, stale_blocks = await paid_blocks(fed, nodes, nodes[0])
    work = {names[script]: s.hashes for script, s in zip(scripts, scanners, strict=True)}
    paid_by_name = {names[script]: v for script, v in paid.items()}
    miners = fairness(work, paid_by_name, exposures(windows, chain.params.finder_bonus_per_mille))
    return SimResult(config, len(shares), Counter(settled.values()), len(shares) - len(settled), local_total,
                     len(windows), as_computed, miners, by_miner, stats, agree, {}, causes, stale_blocks)


def report(result: SimResult) -> str:
    c, f = result.config, result.fates
    load = " ".join(f"{x:.2f}" for x in result.load)
    head = (f"delay {c.delay * 1000:.0f} ms, {len(c.rates)} nodes, {c.duration:.0f} s, chunks {c.chunk_seconds:g} s: "
            f"{result.made} shares made (nodes counted {result.local_total}), main {f[Fate.MAIN]}, "
            f"uncles {f[Fate.UNCLE]}, orphans {f[Fate.ORPHAN]} ({100 * result.orphan_rate:.2f} % of "
            f"{result.settled} settled: {dict(result.orphan_causes)}), pending {result.pending}; {result.blocks} blocks "
            f"(and {result.stale_blocks} from stale work) "
            f"({result.blocks_paid_as_computed} paid as the chain computes); proxies carried "
            f"{result.proxy.bytes_forwarded} bytes; every node gives the same fates: {result.fates_agree}; "
            f"load average {load}")
    lines = [head]
    for m in result.miners:
        counts = result.shares_by_miner[m.name]
        lines.append(f"  {m.name}: work {100 * float(m.work_share):6.2f} %, paid {100 * float(m.paid_share):6.2f} %, "
                     f"spread {100 * m.spread:5.2f} %, z {m.z:+.2f}; shares main {counts[Fate.MAIN]}, "
                     f"uncle {counts[Fate.UNCLE]}, orphan {counts[Fate.ORPHAN]}; submits accepted/rejected "
                     f"{'/'.join(map(str, result.submits.get(m.name, ())))}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delays", default="50,200,500", help="one-way delays in ms, comma-separated")
    parser.add_argument("--rates", default="1,4,16", help="relative hash rates of the nodes' miners")
    parser.add_argument("--unit", type=float, default=40_000, help="hashes per second of rate 1")
    parser.add_argument("--duration", type=float, default=300, help="seconds of mining per delay")
    parser.add_argument("--block-work", type=int, default=22, help="log2 of a dev chain block's expected hashes")
    parser.add_argument("--min-share-work", type=int, default=19, help="log2 of the easiest share's work")
    parser.add_argument("--chunk-seconds", type=float, default=MinerConfig.chunk_seconds,
                        help="the miners' chunk length (new work is picked up between chunks)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rates = tuple(float(r) * args.unit for r in args.rates.split(","))
    for delay in (float(d) / 1000 for d in args.delays.split(",")):
        config = SimConfig(delay, rates, args.duration, 1 << args.block_work, 1 << args.min_share_work,
                           args.chunk_seconds)
        with tempfile.TemporaryDirectory(prefix="uncle-sim-") as tmp:
            began = time.monotonic()
            result = trio.run(simulate, Path(tmp), config)
        print(report(result), f"\n  ({time.monotonic() - began:.0f} s wall)", flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
