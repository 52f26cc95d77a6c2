"""The kill -9 loop: a mining node syncing with a peer, killed at random moments, checked each time.

Topology (all processes on 127.0.0.1): one dev chain (``otedama devchain``) both nodes use as their
bitcoind; the *peer* node; the *victim* node, which dials the peer; the built-in miner as its own
process (``otedama mine``, one thread) mining through a recording proxy to the victim, or to the
peer while the victim is down (a backup pool), so the victim has the peer's shares to sync when it
comes back. The victim runs at a Stratum difficulty capped at the share difficulty, so every
submit it acknowledges is a share.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.kill9.check import Outcome, check_store
from benchmarks.kill9.proxy import RecordingProxy
from benchmarks.loadgen.worker import miner_address
from sharechain.bitcoin.hashing import hash_to_hex
from tests.functional.framework import REPO, NodeProcess, free_port, wait_until


@dataclass
class LoopReport:
    kills: int = 0
    kills_while_serving: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    synced: bool = False
    final: Outcome | None = None
    # Acknowledged submits that were not shares, and those whose job's share difficulty is unknown.
    below_share_target: int = 0
    unclassified: int = 0
    proxy_errors: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[tuple[int, str]]:
        """(kill number, problem) for every problem found; 0 for the check after the final clean stop."""
        found = [(n, p) for n, o in enumerate(self.outcomes, start=1) for p in o.problems]
        found += [(0, f"the proxy lost track of the Stratum stream: {e}") for e in self.proxy_errors]
        return found + [(0, p) for p in (self.final.problems if self.final else [])]


class KillLoop:
    def __init__(self, root: Path, seed: int, max_run: float, miner_threads: int = 1, trace: bool = False) -> None:
        self.root, self.rng, self.max_run, self.miner_threads = root, random.Random(seed), max_run, miner_threads
        self.trace = trace
        self.devchain_port = free_port()
        self.processes: list[subprocess.Popen[bytes]] = []
        self.report = LoopReport()
        self.stored: set[bytes] = set()

    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            process = subprocess.Popen([sys.executable, "-m", "p2pool", *args], cwd=REPO, stdout=out,
                                       stderr=subprocess.STDOUT, env=_env())
        self.processes.append(process)
        return process

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._spawn(["devchain", "--rpc", f"127.0.0.1:{self.devchain_port}", "--datadir", str(self.root / "devchain")],
                    self.root / "devchain.log")
        url = f"http://127.0.0.1:{self.devchain_port}"
        common = ["--bitcoind", url, "--no-miner", "--no-seeds", "--network", "devnet"]
        self.peer = NodeProcess(self.root / "peer", *common, name="peer").start()
        config = self.root / "victim.toml"
        # Vardiff always wants more than the share difficulty, so the connection stays at the cap.
        config.write_text("stratum_submit_interval = 3600.0\n")  # the longest allowed
        self.victim = NodeProcess(self.root / "victim", *common, "--stratum-difficulty", "1e9", "--config",
                                  str(config), "--bootstrap", self.peer.p2p_addr, name="victim")
        self.proxy = RecordingProxy([("victim", self.victim.stratum_port), ("peer", self.peer.stratum_port)],
                                    self.root / "proxy.trace" if self.trace else None).start()
        self.miner = self._spawn(["mine", "--url", f"stratum+tcp://127.0.0.1:{self.proxy.port}", "--user", miner_address(777),
                     "--threads", str(self.miner_threads)], self.root / "miner.log")

    def kill_once(self) -> Outcome:
        """Start the victim, kill -9 it at a random moment, check. Odd rounds count the moment from the
        start of the process (so it may still be opening or loading its database), even ones from when
        it serves miners (so it is mining and syncing)."""
        victim = self.victim
        for process in self.processes:
            if process.poll() is not None:
                args = process.args if isinstance(process.args, list) else [process.args]
                raise RuntimeError(f"{' '.join(map(str, args[3:5]))} exited with {process.returncode} "
                                   "(killed from outside?); see its log in the datadir")
        from_serving = self.report.kills % 2 == 1
        started = time.monotonic()
        wait = self.rng.uniform(0.3, self.max_run) if not from_serving else self.rng.uniform(0.1, self.max_run / 2)
        deadline = started + (60.0 if from_serving else wait)
        with open(victim.log_path, "ab") as out:
            victim.process = subprocess.Popen(victim.args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                              env=_env())
        serving = False
        while time.monotonic() < deadline:
            if not serving and _listening(victim.stratum_port):
                serving = True
                self.proxy.drop_miner()  # the miner comes back from the peer to the victim
                if from_serving:
                    deadline = time.monotonic() + wait
            time.sleep(0.05)
        victim.kill()
        self.report.kills += 1
        self.report.kills_while_serving += serving
        acked = {a.hash for a in self.proxy.acked("victim") if a.share}
        outcome, self.stored = check_store(victim.datadir, acked, self.peer.log_path, victim.log_path, self.stored)
        self.report.outcomes.append(outcome)
        return outcome

    def finish(self, timeout: float = 180) -> None:
        """Bring the victim back, let it mine a moment, stop the miner and wait until both nodes agree on the tip."""
        self.victim.start()
        self.proxy.drop_miner()
        time.sleep(2)
        self.miner.terminate()
        self.miner.wait(30)

        def agreed() -> bool:
            return self.victim.tip()[0] == self.peer.tip()[0]

        try:
            wait_until(agreed, timeout, "the victim to sync with its peer")
            self.report.synced = True
        except AssertionError:
            self.report.synced = False

    def close(self) -> None:
        for node in (getattr(self, "victim", None), getattr(self, "peer", None)):
            if node is not None and node.process is not None and node.process.poll() is None:
                node.stop()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if hasattr(self, "proxy"):
            self.proxy.stop()


def run_loop(root: Path, kills: int, seed: int, max_run: float, log: bool = True, trace: bool = False) -> LoopReport:
    loop = KillLoop(root, seed, max_run, trace=trace)
    started = time.monotonic()
    try:
        loop.start()
        for n in range(1, kills + 1):
            outcome = loop.kill_once()
            if log:
                print(f"kill {n:3}: {outcome.shares} shares stored (tip height {outcome.tip_height}), "
                      f"{outcome.acked} acknowledged to the miner, {outcome.announced} received by the peer"
                      + (f"; PROBLEMS: {outcome.problems}" if outcome.problems else ": intact"), flush=True)
        loop.finish()
    finally:
        loop.close()
    if hasattr(loop, "proxy"):  # for a look afterwards (with --keep): every acknowledged share
        (root / "acks.txt").write_text("".join(f"{a.time:.3f} {a.node} {hash_to_hex(a.hash)} {a.share}\n" for a in loop.proxy.acks))
    if loop.report.kills:  # stopped cleanly now: everything acknowledged or received is still there
        acked = {a.hash for a in loop.proxy.acked("victim") if a.share}
        final, _ = check_store(loop.victim.datadir, acked, loop.peer.log_path, loop.victim.log_path, loop.stored)
        loop.report.final = final
    loop.report.seconds = time.monotonic() - started
    if hasattr(loop, "proxy"):
        acks = loop.proxy.acked("victim")
        loop.report.unclassified = sum(1 for a in acks if a.share is None)
        loop.report.below_share_target = sum(1 for a in acks if a.share is False)
        loop.report.proxy_errors = list(loop.proxy.errors)
    return loop.report


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}
