"""A small mining pool of real processes for the API, CLI and dashboard tests: a dev chain, a node with
its built-in miner, a second miner (``otedama mine``, another address and a worker name) on the node's
Stratum port, and a seed node to peer with. Started once per test module (``mining_pool``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.functional.framework import REPO, NodeProcess, free_port, start_devchain, wait_until

ADDRESS_B = "bcrt1q0ht9tyks4vh7p5p904t340cr9nvahy7uevmqwj"
WORKER_B = ADDRESS_B + ".rig1"


@dataclass
class Pool:
    root: Path
    chain_url: str
    node: NodeProcess
    seed: NodeProcess | None
    miner_b: subprocess.Popen[bytes] | None

    @property
    def address_a(self) -> str:
        """The node's own (made-up, devnet) payout address: its built-in miner's."""
        return (self.node.datadir / "dev-payout-address").read_text().strip()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.node.api_port}"

    def stop_miner_b(self) -> None:
        if self.miner_b is not None and self.miner_b.poll() is None:
            self.miner_b.terminate()
            self.miner_b.wait(timeout=30)


def start_miner(url: str, user: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "p2pool", "mine", "--url", url, "--user", user, "--threads", "1"],
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


@contextmanager
def mining_pool(root: Path, *, seed: bool = True, second_miner: bool = True) -> Iterator[Pool]:
    port = free_port()
    devchain = start_devchain(root / "devchain", port)
    chain_url = f"http://127.0.0.1:{port}"
    seed_node = NodeProcess(root / "seed", "--no-seeds", name="seed", command="bootstrap") if seed else None
    node = NodeProcess(root / "node", "--bitcoind", chain_url, "--no-seeds", name="node")
    pool = Pool(root, chain_url, node, seed_node, None)
    try:
        if seed_node is not None:
            seed_node.start()
        node.start()
        if second_miner:
            pool.miner_b = start_miner(f"stratum+tcp://127.0.0.1:{node.stratum_port}", WORKER_B, root / "miner-b.log")
        wait_until(lambda: len(node.get("/api/workers")["items"]) == (2 if second_miner else 1)
                   and all(w["shares"] for w in node.get("/api/workers")["items"]), 180, "both miners' first shares")
        wait_until(lambda: node.get("/api/blocks")["total"] >= 2, 120, "blocks found")
        yield pool
    finally:
        pool.stop_miner_b()
        for process in (pool.node, seed_node):
            if process is not None and process.process is not None:
                try:
                    process.stop()
                finally:
                    process.kill()
        devchain.terminate()
        devchain.wait(timeout=30)
