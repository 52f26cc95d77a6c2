"""Join rate: a new node joins a network with a mainnet-sized window from one seed.

Usage: .venv/bin/python benchmarks/join.py [--extra 2000] [--uncle-every 10] [--miners 20] [--runs 3] [--history FILE]
       [--in-process | --compare]

The network has mainnet's consensus constants (8,640-share PPLNS window, 8,640-share reorg margin:
17,283 main-chain heights kept) but an easy share target, so that the history (the kept range plus
``--extra`` older shares, a stale share every ``--uncle-every`` that the next share takes as an
uncle, ``--miners`` payout scripts) is quick to make with hashlib. The seed is an ``otedama
bootstrap``-like node (store, sharechain, intake, libp2p host, sync server) in its own process; it
loads the history and prunes it to what it keeps. The joining node runs in this process, from an
empty datadir, through the real path: libp2p connect, tip poll, join plan headers first, shares in
batches, the context part checked alone, every share above validated in full and stored.

Printed: shares downloaded per second from the joining node's start to in sync (its tip is the
seed's), and from its GetJoin request; the load average alongside, and the CPU seconds the joining
process spent (the figure to compare two versions by on a busy machine).
"""

from __future__ import annotations

import argparse
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

from p2pool.config import node_config
from p2pool.node import Node
from p2pool.p2p.joiner import JoinConfig
from p2pool.p2p.messages import GetJoin
from p2pool.p2p.sync_client import SyncClient, SyncConfig
from sharechain.bitcoin.serialize import ByteReader, ser_varbytes
from sharechain.bitcoin.target import target_from_work
from sharechain.horizon import keep_depth
from sharechain.params import MAINNET, NetworkParams
from sharechain.share import MAX_SHARE_SIZE, Share
from tests.functional.sharegen import make_chain, store_shares

PARAMS = dataclasses.replace(MAINNET, name="benchnet", max_share_target=target_from_work(16))
TUNING: dict[str, Any] = {"sync": SyncConfig(tip_interval=5.0), "initial_wait": 0.0}


def config(datadir: Path, bootstrap: list[str]) -> Any:
    return node_config(network="devnet", datadir=datadir, seed=True, api="127.0.0.1:0",
                       p2p=["/ip4/127.0.0.1/tcp/0"], bootstrap=bootstrap, no_seeds=True)


def run_seed(datadir: Path, params: NetworkParams, ready: Any) -> None:
    """A seed node in its own process; sends its P2P address, its tip and how many shares it keeps."""

    async def main() -> None:
        node = Node(config(datadir, []), params=params, p2p_tuning=TUNING)
        async with trio.open_nursery() as nursery:
            endpoints = await nursery.start(node.run)
            assert node.chain is not None and node.chain.tip is not None
            ready.put((endpoints.p2p_addrs[0], node.chain.tip.hash, len(node.chain)))

    trio.run(main)


def tuning(check_process: bool) -> dict[str, Any]:
    return {**TUNING, "sync": SyncConfig(tip_interval=5.0, join=JoinConfig(check_process=check_process))}


async def join_once(datadir: Path, seed_addr: str, tip: bytes, check_process: bool) -> tuple[float, float, int, float]:
    """Seconds from start to in sync, from the GetJoin request to in sync, shares downloaded, and the CPU
    seconds this process spent from start to in sync (less disturbed than wall time by other load)."""
    asked: list[float] = []
    original = SyncClient.request

    async def timed(client: SyncClient, peer: str, message: object) -> object:
        if isinstance(message, GetJoin) and not asked:
            asked.append(time.perf_counter())
        return await original(client, peer, message)  # type: ignore[arg-type]

    SyncClient.request = timed  # type: ignore[method-assign,assignment]
    try:
        async with trio.open_nursery() as nursery:
            started, cpu = time.perf_counter(), time.process_time()
            node = Node(config(datadir, [seed_addr]), params=PARAMS, p2p_tuning=tuning(check_process))
            await nursery.start(node.run)
            while node.chain is None or node.chain.tip is None or node.chain.tip.hash != tip:
                await trio.sleep(0.002)
            finished, cpu = time.perf_counter(), time.process_time() - cpu
            assert node.p2p is not None
            while (report := node.p2p.client.joiner.last) is None:
                await trio.sleep(0.002)
            downloaded = report.downloaded
            nursery.cancel_scope.cancel()
    finally:
        SyncClient.request = original  # type: ignore[method-assign]
    return finished - started, finished - asked[0], downloaded, cpu


def _process_cpu(pid: int | None) -> float:
    """CPU seconds (user and system) process ``pid`` has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    """CPU seconds of this process's children that have ended (the joining node's checking process)."""
    times = os.times()
    return times.children_user + times.children_system


def _load(path: Path) -> list[Share]:
    reader = ByteReader(path.read_bytes())
    shares = []
    while reader.remaining():
        shares.append(Share.parse(reader.read_varbytes(MAX_SHARE_SIZE)))
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra", type=int, default=2000, help="main-chain shares older than what is kept")
    parser.add_argument("--uncle-every", type=int, default=10)
    parser.add_argument("--miners", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--in-process", action="store_true",
                        help="the joining node checks every share itself (JoinConfig(check_process=False))")
    parser.add_argument("--compare", action="store_true",
                        help="each run joins twice: with the share-checking process, then without it")
    parser.add_argument("--history", type=Path, help="keep the generated history in this file and reuse it "
                        "(comparing two versions: the same shares, and no minute spent making them each time)")
    args = parser.parse_args()

    main_shares = keep_depth(PARAMS) + args.extra
    started = time.perf_counter()
    reused = args.history is not None and args.history.exists()
    history = _load(args.history) if reused else make_chain(
        main_shares, params=PARAMS, miners=args.miners, uncle_every=args.uncle_every, kernel="hashlib")
    if args.history and not reused:
        args.history.write_bytes(b"".join(ser_varbytes(s.serialize()) for s in history))
    print(f"{'read' if reused else 'built'} {len(history)} shares ({main_shares} main chain, {len(history) - main_shares} uncles, "
          f"{args.miners} payout scripts) in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store_shares(root / "seed" / "sharechain", history, PARAMS)
        # The joining node runs in this process: it must not start with the seed's history on its heap
        # (millions of objects, that the cyclic collector would walk in the node's first full
        # collection: 0.4 s of the first join, as much as the whole download of 4,000 shares).
        del history
        gc.collect()
        ready: Any = multiprocessing.get_context("spawn").Queue()
        seed = multiprocessing.get_context("spawn").Process(target=run_seed, args=(root / "seed", PARAMS, ready))
        seed.start()
        try:
            addr, tip, kept = ready.get(timeout=300)
            print(f"seed keeps {kept} shares (the window, the margin and the context below it, with their uncles)")
            modes = [True, False] if args.compare else [not args.in_process]
            for run, check_process in ((r, m) for r in range(args.runs) for m in modes):
                seed_cpu, children_cpu = _process_cpu(seed.pid), _children_cpu()
                total, from_plan, downloaded, cpu = trio.run(join_once, root / f"join{run}-{check_process}", addr,
                                                             tip, check_process)
                seed_cpu, children_cpu = _process_cpu(seed.pid) - seed_cpu, _children_cpu() - children_cpu
                load = os.getloadavg()[0]
                mode = "checking process" if check_process else "checked in-process"
                print(f"join {run + 1} ({mode}): {downloaded} shares in {total:.2f} s = {downloaded / total:,.0f} shares/s from "
                      f"the node's start to in sync; {downloaded / from_plan:,.0f} shares/s from its GetJoin "
                      f"(target >= 10,000 shares/s; load average {load:.1f}); CPU s: {cpu:.2f} in the joining "
                      f"process, {children_cpu:.2f} in its share-checking process, {seed_cpu:.2f} in the seed "
                      f"(the seed shares this machine's {os.cpu_count()} cores)")
        finally:
            seed.terminate()
            seed.join()


if __name__ == "__main__":
    main()
