"""``otedama backup`` of a node that is mining, ``otedama restore`` into a new datadir: the restored node
starts with the same tip, peer ID and statistics. ``restore`` into the running node's datadir refuses.
All real processes: the node, the two commands, the restored node."""

from __future__ import annotations

import json

from tests.functional.framework import NodeProcess, otedama, wait_until


def test_backup_of_a_mining_node_restores_into_a_new_datadir(tmp_path):
    backup = tmp_path / "backup"
    mining = NodeProcess(tmp_path / "mining", name="mining").start()
    try:
        before = wait_until(lambda: (s := mining.status())["blocks_found"] >= 1 and s["sharechain"]["shares"] >= 5
                            and s, 120, "shares and a block")
        result = otedama("backup", str(backup), "--api", f"127.0.0.1:{mining.api_port}", "--datadir",
                         str(mining.datadir))
        assert result.returncode == 0, result.stderr
        after = mining.status()  # the node mined on while the snapshot was made
        assert f"backup of the devnet node {before['peer_id']} written to {backup}" in result.stdout

        refused = otedama("restore", str(backup), "--datadir", str(mining.datadir))
        assert refused.returncode == 2
        assert f"in use by another otedama process (pid {mining.process.pid})" in refused.stderr
        audit = [json.loads(line) for line in (mining.datadir / "audit.log").read_text().splitlines()]
        assert any(entry["action"] == "backup" and entry["outcome"] == "ok" for entry in audit)
    finally:
        mining.kill()

    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["peer_id"] == before["peer_id"]
    assert before["sharechain"]["height"] <= manifest["height"] <= after["sharechain"]["height"]
    assert before["blocks_found"] <= manifest["blocks_found"] <= after["blocks_found"]

    restored = tmp_path / "restored"
    result = otedama("restore", str(backup), "--datadir", str(restored))
    assert result.returncode == 0, result.stderr
    assert f"into {restored}" in result.stdout
    node = NodeProcess(restored, "--no-miner", name="restored").start()
    try:
        status = node.status()
        assert status["peer_id"] == before["peer_id"]
        assert status["sharechain"]["tip"] == manifest["tip"]
        assert status["sharechain"]["height"] == manifest["height"]
        assert status["sharechain"]["shares"] == manifest["shares"]
        # Found blocks and who they paid: exactly those the mining node had at the snapshot.
        assert status["blocks_found"] == manifest["blocks_found"]
        hashes = [block["hash"] for block in status["blocks"]]
        assert [b["hash"] for b in before["blocks"]] == hashes[:len(before["blocks"])]
        assert hashes == [b["hash"] for b in after["blocks"]][:len(hashes)]
        assert node.stop() == 0
    finally:
        node.kill()
