"""Soak: a node mining and receiving from a peer for a month of mainnet shares; RSS and disk stay flat.

Usage: .venv/bin/python benchmarks/soak_sharechain.py [--shares 86400] [--turn 10] [--every 4000] [--objects]

Two nodes, each in its own process (store, sharechain, intake, libp2p host with gossip and sync,
HTTP API: ``otedama bootstrap`` nodes), on a network with mainnet's consensus constants (30 s shares,
8,640-share PPLNS window and reorg margin: 17,283 heights kept) but an easy share target, connected
to each other. Each mines on its own tip, ``--turn`` shares at a time in turn (a share is made with
the hashlib kernel, timestamped 30 s after its parent from a month ago, and joins through the
node's share intake as its own miner's would: validated, stored, gossiped); the other receives it
by gossip (validated, stored). A turn that starts before the other's last share arrived makes a
fork, and the next share takes the stale one as an uncle. The measured node samples its RSS and the
size of its LevelDB directory every ``--every`` shares; at the end it is stopped and started again
on its datadir, and the time to open the store and load the chain is measured (target < 2 s).
With ``--objects`` every sample also names the kinds of Python object whose count grew most since the
last one (what to look at when memory is not flat).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import gc
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernels.factory import make_scanner
from p2pool.config import node_config
from p2pool.events import ShareSource, SourceKind
from p2pool.node import Node
from p2pool.p2p.sync_client import SyncConfig
from p2pool.storage.loader import load_chain
from p2pool.storage.share_store import ShareStore
from sharechain.bitcoin.target import target_from_work
from sharechain.horizon import keep_depth
from sharechain.params import MAINNET
from tests.functional.sharegen import COINBASE_VALUE, grind, payout_script

PARAMS = dataclasses.replace(MAINNET, name="soaknet", max_share_target=target_from_work(16))
# A month of shares in minutes: the per-peer gossip limit (20 shares/s, for 1 share per 30 s on the whole
# network) would take the other node for a flooder.
TUNING: dict[str, Any] = {"sync": SyncConfig(tip_interval=5.0, reconcile_interval=30.0), "initial_wait": 0.0,
                          "gossip_rate": (1e6, 1e6)}
# The first share's timestamp: a month (and a bit) before now, so the last one is not in the future.
START = int(time.time()) - 32 * 24 * 3600


def rss_bytes(kind: str = "VmRSS") -> int:
    """Resident memory (``RssAnon``: the heap, ``RssFile``: mapped files such as LevelDB's tables)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(kind + ":"):
                return int(line.split()[1]) * 1024
    return 0


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def config(datadir: Path, bootstrap: list[str]) -> Any:
    return node_config(network="devnet", datadir=datadir, seed=True, api="127.0.0.1:0",
                       p2p=["/ip4/127.0.0.1/tcp/0"], bootstrap=bootstrap, no_seeds=True)


async def mine_turns(node: Node, role: int, args: argparse.Namespace, report: Any) -> None:
    """Mine ``--turn`` shares whenever the tip's height says it is our turn, until ``--shares``."""
    assert node.chain is not None and node.intake is not None
    chain, intake, scanner = node.chain, node.intake, make_scanner("hashlib")
    next_sample = args.every
    objects: collections.Counter[str] | None = None
    while True:
        tip = chain.tip
        height = tip.height if tip else -1
        if height + 1 >= args.shares:
            break
        if role == 0 and height + 1 >= next_sample:
            report.put(("sample", height + 1, len(chain), rss_bytes(), rss_bytes("RssAnon"),
                        dir_bytes(node.datadir / "sharechain"), time.perf_counter()))
            next_sample += args.every
            if args.objects:
                objects = _report_growth(height + 1, objects, report)
                assert node.p2p is not None
                report.put(("objects", height + 1, [("messages in the gossip cache", node.p2p.gossip.cached_messages())]))
        if ((height + 1) // args.turn) % 2 != role:
            await trio.sleep(0.001)
            continue
        now = START + PARAMS.share_period * (height + 1)
        info, payouts = chain.prepare(payout_script(role * 8 + (height // args.turn) % 8), now, COINBASE_VALUE)
        intake.add(grind(info, payouts, PARAMS, scanner), ShareSource(SourceKind.LOCAL))
        await trio.lowlevel.checkpoint()


def _report_growth(height: int, before: collections.Counter[str] | None, report: Any) -> collections.Counter[str]:
    gc.collect()
    now = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    if before is not None:
        report.put(("objects", height, (now - before).most_common(8)))
    return now


def run_node(role: int, datadir: Path, peer: str | None, args: argparse.Namespace, report: Any) -> None:
    async def main() -> None:
        node = Node(config(datadir, [peer] if peer else []), params=PARAMS, p2p_tuning=TUNING)
        async with trio.open_nursery() as nursery:
            endpoints = await nursery.start(node.run)
            report.put(("ready", endpoints.p2p_addrs[0]))
            assert node.p2p is not None
            while not node.p2p.peers.connected():
                await trio.sleep(0.05)
            await mine_turns(node, role, args, report)
            if role == 1:  # the peer serves until it is stopped (the other may still need the last shares)
                await trio.sleep_forever()
            report.put(("done", len(node.chain or ()), rss_bytes(), dir_bytes(datadir / "sharechain")))
            nursery.cancel_scope.cancel()

    trio.run(main)


def restart(datadir: Path, report: Any) -> None:
    """A fresh process opens the store and loads the pruned chain, as a node does on start."""
    started = time.perf_counter()
    with ShareStore(datadir / "sharechain", PARAMS) as store:
        chain = load_chain(store, PARAMS)
    report.put(("restart", time.perf_counter() - started, len(chain), chain.tip.height if chain.tip else -1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shares", type=int, default=86_400, help="main-chain shares (a month of mainnet)")
    parser.add_argument("--turn", type=int, default=10, help="shares each node mines in a row")
    parser.add_argument("--every", type=int, default=4000, help="sample every this many shares")
    parser.add_argument("--objects", action="store_true", help="name the objects whose count grew at each sample")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        report: Any = ctx.Queue()
        peer_reports: Any = ctx.Queue()
        peer = ctx.Process(target=run_node, args=(1, root / "peer", None, args, peer_reports))
        peer.start()
        _, peer_addr = peer_reports.get(timeout=120)
        node = ctx.Process(target=run_node, args=(0, root / "node", peer_addr, args, report))
        node.start()
        print(f"{args.shares} shares, keep rule {keep_depth(PARAMS)} heights; sampling the mining node every "
              f"{args.every} shares")
        print(f"{'shares':>8} {'held':>7} {'RSS MiB':>8} {'heap MiB':>9} {'LevelDB MiB':>12} {'shares/s':>9} "
              f"{'load':>5}")
        try:
            report.get(timeout=120)
            started = last = time.perf_counter()
            last_height = 0
            while True:
                message = report.get(timeout=1800)
                if message[0] == "done":
                    print(f"done: {message[1]} shares held, RSS {message[2] / 2**20:.1f} MiB, LevelDB "
                          f"{message[3] / 2**20:.1f} MiB, {args.shares / (time.perf_counter() - started):,.0f} "
                          f"shares/s overall")
                    break
                if message[0] == "objects":
                    print(f"{'':>8} grew by {message[1]}: " + ", ".join(f"{n} {k}" for k, n in message[2]), flush=True)
                    continue
                _, height, held, rss, anon, disk, at = message
                rate = (height - last_height) / max(at - last, 1e-9)
                last, last_height = at, height
                print(f"{height:>8} {held:>7} {rss / 2**20:>8.1f} {anon / 2**20:>9.1f} {disk / 2**20:>12.1f} "
                      f"{rate:>9,.0f} {os.getloadavg()[0]:>5.1f}", flush=True)
        finally:
            node.join(timeout=60)
            peer.terminate()
            peer.join()
            if node.is_alive():
                node.terminate()
        for attempt in range(3):
            loader = ctx.Process(target=restart, args=(root / "node", report))
            loader.start()
            _, seconds, held, height = report.get(timeout=300)
            loader.join()
            print(f"restart {attempt + 1}: opened the store and loaded {held} shares (tip at {height}) in "
                  f"{seconds:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
