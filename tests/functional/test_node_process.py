"""``otedama run`` as a real process: the README command finds blocks, kill -9 loses nothing,
SIGTERM stops cleanly, a broken config file is refused with a clear message."""

from __future__ import annotations

import socket
import subprocess
import sys

from p2pool.storage.loader import load_chain
from p2pool.storage.share_store import ShareStore
from sharechain.params import DEVNET
from tests.functional.framework import REPO, NodeProcess, wait_until


def test_default_run_finds_blocks_and_reports_them(tmp_path):
    node = NodeProcess(tmp_path / "node").start()
    try:
        status = wait_until(lambda: (s := node.status())["blocks_found"] >= 1 and s, 60, "a block on the dev chain")
        assert status["network"] == "devnet"
        assert status["healthy"] is True
        assert status["sharechain"]["shares"] >= 1
        assert status["miners_connected"] == 1
        assert status["blocks"][0]["payouts"]
        metrics = node.get("/metrics")
        assert "otedama_blocks_found_total" in metrics and "otedama_blockchain_connected 1.0" in metrics
        assert node.get("/api/health")["status"] == "ok"
        assert node.stop() == 0
    finally:
        node.kill()


def test_kill_9_loses_no_share_and_mining_resumes(tmp_path):
    datadir = tmp_path / "node"
    node = NodeProcess(datadir, name="miner-node").start()
    try:
        before = wait_until(lambda: (s := node.status())["sharechain"]["shares"] >= 5 and s, 90, "five shares")
    finally:
        node.kill()
    with ShareStore(datadir / "sharechain", DEVNET) as store:
        stored = load_chain(store, DEVNET)
        stored_tip, stored_count = stored.tip.hash[::-1].hex(), len(stored)
    # Every share the node had reported before the kill is on disk.
    assert stored_count >= before["sharechain"]["shares"]

    quiet = NodeProcess(datadir, "--no-miner", name="restarted").start()
    try:
        status = quiet.status()
        assert status["sharechain"]["tip"] == stored_tip
        assert status["sharechain"]["shares"] == stored_count
        assert quiet.stop() == 0
    finally:
        quiet.kill()

    resumed = NodeProcess(datadir, name="resumed").start()
    try:
        wait_until(lambda: resumed.status()["sharechain"]["shares"] > stored_count, 90, "new shares after restart")
    finally:
        resumed.kill()


def test_broken_config_file_is_refused_clearly(tmp_path):
    config = tmp_path / "otedama.toml"
    config.write_text('network = "devnet"\nstratum = [unclosed\n')
    result = subprocess.run([sys.executable, "-m", "p2pool", "run", "--config", str(config)], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert str(config) in result.stderr and "not valid TOML" in result.stderr
    config.write_text('network = "devnet"\nstratum_port = 3333\n')
    result = subprocess.run([sys.executable, "-m", "p2pool", "run", "--config", str(config)], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "unknown key 'stratum_port'; did you mean stratum?" in result.stderr


def test_foreign_datadir_is_refused_with_its_path(tmp_path):
    datadir = tmp_path / "node"
    with ShareStore(datadir / "sharechain", DEVNET):
        pass
    result = subprocess.run([sys.executable, "-m", "p2pool", "run", "--network", "regtest", "--devchain", "--datadir",
                             str(datadir), "--no-miner"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "another network" in result.stderr and str(datadir / "sharechain") in result.stderr


def test_api_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "p2pool", "run", "--datadir", str(tmp_path / "node"), "--no-miner",
                                 "--no-p2p", "--stratum", "127.0.0.1:0", "--api", f"127.0.0.1:{port}"],
                                cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower() or "Traceback" in line]
    expected = (f"otedama: error: cannot listen for the API (--api) on 127.0.0.1:{port}: port {port} is already in "
                "use (another node?); stop what uses it or choose another port")
    assert errors == [expected], result.stderr
    assert result.stderr.endswith(errors[0] + "\n")
