"""P2P figures: time for a share to reach every one of 10 nodes, and sync rate of a full window.

Usage: .venv/bin/python benchmarks/p2p.py [--nodes 10] [--shares 200] [--window 720] [--skip-propagation]

Everything runs for real on 127.0.0.1 with seed nodes (store, sharechain, libp2p host with Noise
and yamux, GossipSub, sync protocol).

Propagation, two ways. *Processes*: ``--nodes`` ``otedama bootstrap`` processes form a random
connected graph (each dials 3 earlier ones) over a common history; a publisher (a libp2p host of
its own) connected to one node gossips the next share every ``--gap`` seconds; the delay is from
its publish call to the latest "accepted" line (millisecond timestamps) in the nodes' logs, so
every node has validated and stored it. *In-process*: the same in one process and one trio loop
(every node's work on one core, so the figure is the CPU cost of a share across the network).

Sync: a fresh node bootstraps from one seed, then from three, each holding ``--window`` shares,
all as processes (times from the fresh node's log) and all in one process: shares/s from its start
(connecting, tip polls, inventory included) and from its inventory (or join plan) request to its last
share accepted, every share validated and stored. (A fresh node joins from a plan: ``benchmarks/join.py``
measures that over a mainnet-sized window.)
"""

from __future__ import annotations

import argparse
import datetime
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2pool.events import SharesAccepted, ShareSource, SourceKind
from p2pool.node import Node
from p2pool.p2p.messages import GetHashes, GetJoin
from p2pool.p2p.peers import PeerConfig
from p2pool.p2p.sync_client import SyncClient, SyncConfig
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.params import DEVNET
from tests.functional.badpeer import BadPeer
from tests.functional.federation import federation, wait_for
from tests.functional.framework import NodeProcess, wait_until
from tests.functional.sharegen import make_chain, store_shares

QUIET = {"sync": SyncConfig(tip_interval=5.0), "peers": PeerConfig(maintain_interval=1.0)}


async def propagation(root: Path, nodes: int, shares: list, history: int, gap: float) -> list[float]:
    """Seconds from announce to acceptance at the last of ``nodes`` nodes, one figure per share."""
    rng = random.Random(7)
    async with federation(root) as fed:
        members: list[Node] = []
        for _ in range(nodes):
            dial = rng.sample(members, min(3, len(members)))
            members.append(await fed.add_node(*dial, seed=True, shares=shares[:history], p2p=QUIET))
        await wait_for(lambda: all(m.p2p and m.p2p.gossip.links() for m in members), "gossip links", 60)
        arrived: dict[bytes, list[float]] = {}
        def record(event: SharesAccepted) -> None:
            for share in event.shares:
                arrived.setdefault(share.hash, []).append(trio.current_time())

        for m in members:
            m.events.subscribe(SharesAccepted, record)
        delays = []
        for i, share in enumerate(shares[history:]):
            origin = members[i % nodes]
            started = trio.current_time()
            assert origin.intake is not None
            origin.intake.add(share, ShareSource(SourceKind.LOCAL))
            await wait_for(lambda s=share: len(arrived.get(s.hash, ())) == nodes,  # type: ignore[misc]
                           "a share to reach every node", 30)
            delays.append(max(arrived[share.hash]) - started)
            await trio.sleep(gap)
        fed.nursery.cancel_scope.cancel()
    return delays


_ACCEPTED = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) INFO +otedama\.intake: share ([0-9a-f]{16}) from peer")


def start_processes(root: Path, count: int, history: list) -> list[NodeProcess]:
    rng = random.Random(7)
    nodes: list[NodeProcess] = []
    for i in range(count):
        store_shares(root / f"n{i}" / "sharechain", history)
        dial = [n.p2p_addr for n in rng.sample(nodes, min(3, len(nodes)))]
        args = [a for addr in dial for a in ("--bootstrap", addr)]
        nodes.append(NodeProcess(root / f"n{i}", *args, name=f"n{i}", command="bootstrap").start())
    wait_until(lambda: all(n.status()["p2p"]["gossip_links"] >= 1 for n in nodes), 60, "gossip links")
    return nodes


def log_times(nodes: list[NodeProcess], offsets: dict[str, int]) -> dict[str, list[float]]:
    """Share hash prefix -> epoch seconds each node logged it as accepted (reads only new log lines)."""
    found: dict[str, list[float]] = {}
    today = datetime.datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    for node in nodes:
        with open(node.log_path, "rb") as handle:
            handle.seek(offsets.get(node.name, 0))
            data = handle.read()
            offsets[node.name] = offsets.get(node.name, 0) + len(data)
        for line in data.decode(errors="replace").splitlines():
            if m := _ACCEPTED.match(line):
                h, mi, sec, ms, share = m.groups()
                found.setdefault(share, []).append(today + int(h) * 3600 + int(mi) * 60 + int(sec) + int(ms) / 1e3)
    return found


async def propagation_processes(nodes: list[NodeProcess], shares: list, gap: float) -> list[float]:
    publisher = BadPeer(DEVNET)  # a scripted peer, here publishing valid shares
    async with trio.open_nursery() as nursery:
        await nursery.start(publisher.run)
        assert await publisher.connect(nodes[0].p2p_addr)
        await wait_for(lambda: publisher.peer_id in {p["id"] for p in nodes[0].status()["p2p"]["peers"]}, "link", 30)
        await publisher.wait_mesh(nodes[0].status()["peer_id"])
        offsets: dict[str, int] = {}
        log_times(nodes, offsets)
        seen: dict[str, list[float]] = {}
        delays = []
        for share in shares:
            key = hash_to_hex(share.hash)[:16]
            started = time.time()
            await publisher.publish(share.serialize())
            while len(seen.get(key, ())) < len(nodes):
                await trio.sleep(0.005)
                for k, v in log_times(nodes, offsets).items():
                    seen.setdefault(k, []).extend(v)
                if time.time() - started > 30:
                    raise AssertionError(f"share {key} reached {len(seen.get(key, ()))} of {len(nodes)} nodes")
            delays.append(max(seen[key]) - started)
            await trio.sleep(gap)
        nursery.cancel_scope.cancel()
    return delays


_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) ")


def _stamp(line: str) -> float:
    m = _STAMP.match(line)
    assert m is not None, line
    h, mi, s, ms = (int(g) for g in m.groups())
    return h * 3600 + mi * 60 + s + ms / 1e3


def sync_rate_processes(root: Path, window: list, seeds: int) -> tuple[float, float]:
    """As :func:`sync_rate` with every node a process (``otedama bootstrap``): the fresh node's log
    gives its start (first line), the inventory ("sync: N shares to fetch") and the end ("caught up")."""
    sources: list[NodeProcess] = []
    fresh = None
    try:
        for i in range(seeds):
            store_shares(root / f"s{i}" / "sharechain", window)
            args = [a for s in sources for a in ("--bootstrap", s.p2p_addr)]
            sources.append(NodeProcess(root / f"s{i}", *args, name=f"s{i}", command="bootstrap").start())
        wait_until(lambda: all(s.status()["peers"] == seeds - 1 for s in sources), 60, "seed links")
        args = [a for s in sources for a in ("--bootstrap", s.p2p_addr)]
        fresh = NodeProcess(root / "fresh", *args, name="fresh", command="bootstrap").start()
        wait_until(lambda: fresh.status()["sharechain"]["shares"] == len(window), 600, "the fresh node to sync")
        wait_until(lambda: "sharechain caught up" in fresh.log_path.read_text(), 60, "the caught-up line")
        lines = fresh.log_path.read_text().splitlines()
        start = _stamp(lines[0])
        inventory = _stamp(next(line for line in lines if " sync: " in line or " joining from " in line))
        end = _stamp(next(line for line in lines if "sharechain caught up" in line))
    finally:
        for node in (fresh, *sources):
            if node is not None:
                node.kill()
    return len(window) / (end - start), len(window) / (end - inventory)


async def sync_rate(root: Path, window: list, seeds: int) -> tuple[float, float]:
    """Shares/s from the fresh node's start, and over the download alone (from its first inventory
    request to its last share accepted)."""
    async with federation(root) as fed:
        sources: list = []
        for _ in range(seeds):  # the seeds know each other first, so that they settle before the measure
            sources.append(await fed.add_node(*sources, seed=True, shares=window, p2p=QUIET))
        await wait_for(lambda: all(len(s.p2p.peers.connected()) == seeds - 1 for s in sources), "seed links", 30)
        started = trio.current_time()
        inventory: list[float] = []
        original = SyncClient.request

        async def timed(client: SyncClient, peer: str, message: object) -> object:
            if isinstance(message, (GetHashes, GetJoin)) and not inventory:
                inventory.append(trio.current_time())
            return await original(client, peer, message)  # type: ignore[arg-type]

        SyncClient.request = timed  # type: ignore[method-assign,assignment]
        try:
            fresh = await fed.add_node(*sources, seed=True, p2p=QUIET)
            await wait_for(lambda: fresh.chain is not None and len(fresh.chain) == len(window), "the fresh node to sync",
                           600)
        finally:
            SyncClient.request = original  # type: ignore[method-assign]
        finished = trio.current_time()
        assert fresh.chain is not None and fresh.chain.tip is not None and fresh.chain.tip.hash == window[-1].hash
        fed.nursery.cancel_scope.cancel()
    return len(window) / (finished - started), len(window) / (finished - inventory[0])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--shares", type=int, default=200, help="shares timed for propagation")
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between announced shares")
    parser.add_argument("--window", type=int, default=720, help="shares to sync (devnet's PPLNS window: 720)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="shares sent first and not counted (the nodes' start-up polls and exchanges)")
    parser.add_argument("--skip-propagation", action="store_true")
    parser.add_argument("--skip-in-process", action="store_true", help="only the multi-process propagation")
    args = parser.parse_args()

    started = time.perf_counter()
    timed = args.warmup + args.shares
    chain = make_chain(max(args.window, 20 + timed))
    print(f"built {len(chain)} devnet shares in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if not args.skip_propagation:
            nodes = start_processes(root / "procs", args.nodes, chain[:20])
            try:
                delays = trio.run(propagation_processes, nodes, chain[20 : 20 + timed], args.gap)[args.warmup :]
            finally:
                for node in nodes:
                    node.kill()
            report(f"propagation to all {args.nodes} node processes", delays)
            if not args.skip_in_process:
                delays = trio.run(propagation, root / "prop", args.nodes, chain[: 20 + timed], 20, args.gap)[args.warmup :]
                report(f"propagation to all {args.nodes} nodes in one process", delays)
        window = chain[: args.window]
        for seeds in (1, 3):
            peers = f"{seeds} peer{'s' if seeds > 1 else ''}"
            total, download = sync_rate_processes(root / f"psync{seeds}", window, seeds)
            print(f"sync of {len(window)} shares from {peers}, node processes: {total:,.0f} shares/s from the "
                  f"node's first log line, {download:,.0f} shares/s from the inventory "
                  f"(target >= 2,000 shares/s)")
            total, download = trio.run(sync_rate, root / f"sync{seeds}", window, seeds)
            print(f"sync of {len(window)} shares from {peers}, one process: {total:,.0f} shares/s from the node's "
                  f"start, {download:,.0f} shares/s from the inventory (target >= 2,000 shares/s)")


def report(what: str, delays: list[float]) -> None:
    print(f"{what}, {len(delays)} shares: p50 {percentile(delays, 50) * 1e3:.1f} ms, p99 "
          f"{percentile(delays, 99) * 1e3:.1f} ms, max {max(delays) * 1e3:.1f} ms, mean "
          f"{statistics.mean(delays) * 1e3:.1f} ms (target p99 < 250 ms)")


if __name__ == "__main__":
    main()
