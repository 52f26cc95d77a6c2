"""``otedama run --stratum-processes 2`` as a real process: the built-in miner, served by a worker process,
finds shares and blocks the node keeps; a worker process killed with SIGKILL is started again and the
miner reconnects; SIGTERM stops the node and its worker processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.functional.framework import NodeProcess, wait_until


def _workers(pid: int) -> list[int]:
    """The node's Stratum worker processes (its children running p2pool.stratum_processes.child)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"p2pool.stratum_processes.child" in cmdline:
            out.append(int(stat.parent.name))
    return sorted(out)


def test_a_node_over_two_worker_processes_mines_and_outlives_a_killed_one(tmp_path):
    node = NodeProcess(tmp_path / "node", "--stratum-processes", "2").start()
    try:
        assert node.process is not None
        # (a worker process reports its per-worker statistics every 5 s, so blocks may come before them)
        status = wait_until(lambda: (s := node.status())["blocks_found"] >= 2 and s["workers"] and s, 90,
                            "blocks through a worker process and its workers' statistics")
        assert status["miners_connected"] == 1 and status["workers"][0]["accepted"] >= 1
        first = wait_until(lambda: len(w := _workers(node.process.pid)) == 2 and w, 30, "two worker processes")
        shares = status["sharechain"]["shares"]

        for pid in first:  # whichever serves the miner: it reconnects to the other or the new one
            os.kill(pid, signal.SIGKILL)
        again = wait_until(lambda: len(w := _workers(node.process.pid)) == 2 and not set(w) & set(first) and w, 30,
                           "both worker processes started again")
        wait_until(lambda: (s := node.status())["sharechain"]["shares"] > shares + 2 and s["miners_connected"] == 1,
                   90, "the miner mining again through a new worker process")
        assert "worker process 0 ended" in node.log_tail(400) or "worker process 1 ended" in node.log_tail(400)

        assert node.stop() == 0
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in again), 10, "the worker processes gone")
    finally:
        node.kill()
