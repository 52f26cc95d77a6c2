"""Real blocks mined through the node and Stratum on a real Bitcoin SV regtest node (no segwit)."""

from __future__ import annotations

from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import sha256d
from sharechain.params import REGTEST
from tests.fixtures.bsv import _PASSWORD, _USER, MINING_ADDRESS, bsv_nodes  # noqa: F401
from tests.functional.framework import NodeProcess, wait_until


def test_node_mines_real_blocks_on_bitcoin_sv(tmp_path, bsv_nodes):  # noqa: F811
    start_height = bsv_nodes.a.rpc("getblockcount")
    url = f"http://{_USER}:{_PASSWORD}@127.0.0.1:{bsv_nodes.a.rpc_port}"
    node = NodeProcess(tmp_path / "node", "--network", "regtest", "--bitcoind", url,
                       "--payout-address", MINING_ADDRESS, name="bsv-node").start()
    try:
        status = wait_until(lambda: (s := node.status())["blocks_found"] >= 2 and s, 120, "two blocks accepted by BSV")
        assert node.stop() == 0
    finally:
        node.kill()
    assert bsv_nodes.a.rpc("getblockcount") >= start_height + 2
    bsv_nodes.sync()  # the second BSV node got them over its own P2P protocol
    for found in status["blocks"][:2]:
        raw = bytes.fromhex(bsv_nodes.b.rpc("getblock", found["hash"], 0))
        block = Block.parse(raw)
        coinbase = block.transactions[0]
        assert not coinbase.has_witness
        info_hash = sha256d(bytes.fromhex(found["share_info"]))
        assert any(out.script_pubkey[2:] == REGTEST.network_id + info_hash for out in coinbase.outputs)
        assert sum(out.value for out in coinbase.outputs) == found["value"]
        assert found["payouts"] == [[MINING_ADDRESS, found["value"]]]  # one miner: it gets everything
