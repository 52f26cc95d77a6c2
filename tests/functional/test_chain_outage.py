"""The chain backend goes away: the node stays up, reports unhealthy, gives miners no stale work, and
recovers by itself when the backend is back. The backend is a separate `otedama devchain` process."""

from __future__ import annotations

from sharechain.bitcoin.target import target_from_work, target_to_bits
from tests.functional.framework import NodeProcess, free_port, start_devchain, wait_until


def test_backend_outage_is_reported_and_recovered(tmp_path):
    port, bits = free_port(), target_to_bits(target_from_work(1 << 20))
    devchain = start_devchain(tmp_path / "devchain", port, bits)
    node = NodeProcess(tmp_path / "node", "--bitcoind", f"http://127.0.0.1:{port}", name="node")
    try:
        node.start()
        wait_until(lambda: node.status()["blocks_found"] >= 2, 90, "blocks before the outage")

        devchain.terminate()
        devchain.wait(timeout=30)
        health = wait_until(lambda: (h := node.get("/api/health", allow_error=True))["status"] == "unhealthy" and h,
                            60, "the node to report the outage")
        assert any("unavailable" in problem for problem in health["problems"])
        assert "otedama_blockchain_connected 0.0" in node.get("/metrics")
        # Miners are told there is no work rather than mining on a stale template.
        wait_until(lambda: node.status()["shares_rejected"].get("no-work", 0) > 0, 60, "no-work answers to the miner")
        assert node.status()["chain"]["connected"] is False

        blocks_before = node.status()["blocks_found"]
        devchain = start_devchain(tmp_path / "devchain", port, bits)
        wait_until(lambda: node.get("/api/health", allow_error=True)["status"] == "ok", 90, "recovery")
        wait_until(lambda: node.status()["blocks_found"] > blocks_before, 90, "blocks after recovery")
        assert node.stop() == 0
    finally:
        node.kill()
        devchain.kill()
        devchain.wait(timeout=30)
