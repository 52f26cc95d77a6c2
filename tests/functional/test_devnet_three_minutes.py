"""The README's first command, run as a real process for three minutes on devnet (embedded dev chain,
built-in miner): the miner's accepted and rejected submits and the node's rejects by reason are
printed (and kept in tests/artifacts/devnet-3min.txt); stale rejects stay under 2 % of submits and
no job the node issued is ever "not found"."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.functional.framework import REPO, TIMEOUT_FACTOR, NodeProcess, wait_until

MINUTES = 3.0
ARTIFACT = REPO / "tests" / "artifacts" / "devnet-3min.txt"
_REJECT = re.compile(r'^otedama_stratum_rejects_total\{reason="([a-z-]+)"\} ([0-9.e+]+)$', re.M)
_MINER = re.compile(r"miner: .*shares accepted (\d+), rejected (\d+)")


@pytest.mark.slow
def test_three_minutes_of_the_readme_run(tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "node").start()  # `otedama run` with its defaults, on free ports
    try:
        started = time.monotonic()
        wait_until(lambda: node.status()["shares_accepted"] > 0, 60, "the built-in miner's first share")
        deadline = started + MINUTES * 60
        while time.monotonic() < deadline:  # three minutes of mining, watched (the node must stay up)
            assert node.process is not None and node.process.poll() is None, node.log_tail()
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
        status = node.status()
        rejects = {reason: int(float(n)) for reason, n in _REJECT.findall(node.get("/metrics"))}
        assert node.stop() == 0
    finally:
        node.kill()
    log = node.log_path.read_text()
    reports = _MINER.findall(log)
    assert reports, "the built-in miner reported no counts"
    miner_accepted, miner_rejected = map(int, reports[-1])
    (worker,) = status["workers"]
    submits = worker["accepted"] + worker["rejected"]
    stale = sum(n for reason, n in rejects.items() if reason.startswith("stale"))
    summary = "\n".join([
        f"devnet, {MINUTES:g} minutes of `otedama run` (timeout factor {TIMEOUT_FACTOR:g})",
        f"built-in miner (its own last report): accepted {miner_accepted}, rejected {miner_rejected}",
        f"node, that worker: accepted {worker['accepted']}, rejected {worker['rejected']} of {submits} submits",
        f"node rejects by reason: {rejects or 'none'}",
        f"stale: {stale} = {100 * stale / max(1, submits):.2f} % of submits",
        f"shares by fate (main, uncle, orphan, pending): {status['shares']['local']}",
        f"blocks found: {status['blocks_found']}, sharechain height {status['sharechain']['height']}",
    ])
    print(summary)
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(summary + "\n")
    assert rejects == status["shares_rejected"]  # the metric and the status agree
    assert "job-not-found" not in rejects and "Job not found" not in log
    assert stale < 0.02 * submits, summary
    assert status["blocks_found"] >= 1 and worker["accepted"] >= 20
