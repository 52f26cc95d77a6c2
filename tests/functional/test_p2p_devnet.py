"""``otedama devnet --nodes 3``: one dev chain, three mining nodes that find each other and agree; every
log line says which node (or the dev chain, or the federation) it came from, and each node's last one
that it stopped cleanly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request

from tests.functional.framework import REPO, wait_until


def test_devnet_command_runs_a_federation(tmp_path):
    log_path = tmp_path / "devnet.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "p2pool", "devnet", "--nodes", "3", "--base-port", "0",
                                    "--datadir", str(tmp_path / "fed")], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        def api_ports() -> list[int]:
            assert process.poll() is None, log_path.read_text()[-3000:]
            return [int(p) for p in re.findall(r"node\d: API http://127\.0\.0\.1:(\d+)/api/status", log_path.read_text())]

        ports = wait_until(lambda: len(api_ports()) == 3 and api_ports(), 120, "the devnet to start")
        def status(port: int) -> dict:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as reply:
                return json.loads(reply.read())

        def agreed() -> bool:
            states = [status(p) for p in ports]
            tips = {s["sharechain"]["tip"] for s in states}
            return (len(tips) == 1 and all(s["sharechain"]["shares"] >= 6 and s["peers"] >= 1 for s in states)
                    and all(s["miners_connected"] == 1 for s in states))

        wait_until(agreed, 120, "three mining nodes to agree on a tip")
        ids = {status(p)["peer_id"] for p in ports}
        assert len(ids) == 3
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert process.returncode == 0, log_path.read_text()[-3000:]
    lines = [line for line in log_path.read_text().splitlines() if re.match(r"\d\d:\d\d:\d\d\.\d{3} ", line)]
    named = [re.match(r"\S+ \w+ +\[(node\d|devchain|devnet)\] ", line) for line in lines]
    assert all(named), [line for line, name in zip(lines, named, strict=True) if not name][:5]
    for i in range(3):
        own = [line for line in lines if f"[node{i}] " in line]
        assert "node stopped cleanly" in own[-1], own[-3:]
