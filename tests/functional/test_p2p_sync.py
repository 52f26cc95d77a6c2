"""Real processes: a node started late, and a node restarted after missing many shares, sync the
whole PPLNS window from a seed node (``otedama bootstrap``) and end on its tip."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.params import DEVNET
from tests.functional.framework import REPO, NodeProcess, sync_sharechains
from tests.functional.sharegen import make_chain, store_shares

WINDOW = DEVNET.pplns_window
MISSED = 300


@pytest.fixture(scope="module")
def history() -> list:
    return make_chain(WINDOW + MISSED)


def test_late_and_restarted_nodes_sync_the_whole_window(tmp_path, history):
    store_shares(tmp_path / "seed" / "sharechain", history[:WINDOW])
    seed = NodeProcess(tmp_path / "seed", name="seed", command="bootstrap")
    late = None
    try:
        seed.start()
        assert seed.status()["sharechain"]["shares"] == WINDOW
        late = NodeProcess(tmp_path / "late", "--no-miner", "--bootstrap", seed.p2p_addr, name="late").start()
        tip = sync_sharechains([seed, late], timeout=60)
        assert tip == hash_to_hex(history[WINDOW - 1].hash)
        status = late.status()
        assert status["sharechain"]["shares"] == WINDOW and status["peers"] == 1
        assert status["sync"]["have_height"] == status["sync"]["target_height"] == WINDOW - 1
        assert not status["sync"]["behind"] and status["p2p"]["peers"][0]["id"] == seed.status()["peer_id"]
        assert "otedama_peers_connected 1.0" in late.get("/metrics")
        # While it was behind, its Stratum server would have told miners to wait.
        log = late.log_path.read_text()
        assert log.index("miners wait until it has caught up") < log.index("sharechain caught up")
        assert f"P2P peer ID {status['peer_id']}" in log

        # The late node goes down; meanwhile the seed learns many more shares.
        assert late.stop() == 0 and seed.stop() == 0
        store_shares(tmp_path / "seed" / "sharechain", history[WINDOW:])
        seed.start()
        late.start()
        tip = sync_sharechains([seed, late], timeout=60)
        assert tip == hash_to_hex(history[-1].hash)
        assert late.status()["sharechain"]["shares"] == WINDOW + MISSED
    finally:
        for node in (late, seed):
            if node is not None:
                node.kill()


def test_p2p_port_in_use_is_refused_clearly(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "p2pool", "bootstrap", "--datadir", str(tmp_path / "seed"),
                                 "--api", "127.0.0.1:0", "--p2p", f"/ip4/127.0.0.1/tcp/{port}"], cwd=REPO,
                                capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert f"cannot listen for peers on /ip4/127.0.0.1/tcp/{port}" in result.stderr
