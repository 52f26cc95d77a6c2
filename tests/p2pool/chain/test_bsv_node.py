"""BitcoindClient and BlockTemplate against a real Bitcoin SV node: templates, mined blocks, rejects."""

from __future__ import annotations

from dataclasses import replace

import trio

from p2pool.chain.monitor import MonitorConfig, TemplateMonitor
from p2pool.chain.rpc import BitcoindClient
from sharechain.bitcoin.address import address_to_script
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import hash_to_hex, hash_to_int
from sharechain.bitcoin.transaction import TxOut
from sharechain.params import REGTEST
from tests.fixtures.blocks import assemble, block_from_template, make_coinbase, solve
from tests.fixtures.bsv import MINING_ADDRESS, BsvPair

PAYOUT_ADDRESS = "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r"
PAYOUT = address_to_script(PAYOUT_ADDRESS, REGTEST.address_format)


async def test_template_from_bsv(bsv_nodes: BsvPair) -> None:
    async with BitcoindClient(bsv_nodes.a.url) as rpc:
        raw = await rpc.getblocktemplate()
        tpl = await rpc.get_template()
        height = await rpc.getblockcount()
        best = await rpc.getbestblockhash()
    assert "default_witness_commitment" not in raw and "rules" not in raw
    assert tpl.witness_commitment is None
    assert tpl.height == height + 1
    assert hash_to_hex(tpl.prev_hash) == best
    assert tpl.bits == 0x207FFFFF and tpl.target == 0x7FFFFF << 232
    assert tpl.coinbase_value == 50 * 100_000_000 + tpl.total_fees()
    assert tpl.longpollid


async def test_mined_block_with_wallet_transactions_is_accepted(bsv_nodes: BsvPair) -> None:
    a = bsv_nodes.a
    a.rpc("generatetoaddress", 101, a.rpc("getnewaddress"))
    bsv_nodes.sync()
    txids = [a.rpc("sendtoaddress", MINING_ADDRESS, 1.5), a.rpc("sendtoaddress", MINING_ADDRESS, 0.25)]
    async with BitcoindClient(a.url) as rpc:
        tpl = await rpc.get_template()
        assert sorted(hash_to_hex(t) for t in tpl.other_txids()) == sorted(txids)
        assert tpl.total_fees() > 0
        block = block_from_template(tpl, PAYOUT)
        coinbase = block.transactions[0]
        assert not coinbase.has_witness
        result = await rpc.submit_block(block.serialize())
        assert result.accepted and result.reason is None
        block_hash = hash_to_hex(block.header.hash())
        assert await rpc.getbestblockhash() == block_hash
        assert await rpc.getblockcount() == tpl.height
        again = await rpc.submit_block(block.serialize())
        assert (again.accepted, again.reason) == (False, "duplicate")
        decoded = await rpc.getblock(block_hash, 2)
    # The second node got it over P2P and validated it too.
    assert bsv_nodes.sync() == block_hash
    assert decoded["tx"][0]["txid"] == hash_to_hex(coinbase.txid())
    vout = decoded["tx"][0]["vout"][0]
    assert round(vout["value"] * 100_000_000) == tpl.coinbase_value
    assert vout["scriptPubKey"]["hex"] == PAYOUT.hex()
    assert bsv_nodes.b.rpc("getblock", block_hash)["height"] == tpl.height


async def test_broken_blocks_get_reject_strings(bsv_nodes: BsvPair) -> None:
    async with BitcoindClient(bsv_nodes.a.url) as rpc:
        tpl = await rpc.get_template()
        tip = await rpc.getbestblockhash()
        good = block_from_template(tpl, PAYOUT)
        bad_root = Block(solve(replace(good.header, merkle_root=b"\x01" * 32)), good.transactions)
        greedy = block_from_template(tpl, [TxOut(tpl.coinbase_value + 1, PAYOUT)])
        unsolved = next(Block(replace(good.header, nonce=n), good.transactions) for n in range(1000)
                        if hash_to_int(replace(good.header, nonce=n).hash()) > tpl.target)
        too_old = block_from_template(tpl, PAYOUT, timestamp=tpl.mintime - 1)
        segwit_coinbase = make_coinbase(tpl.height, [TxOut(1, PAYOUT)], commitment=b"\x6a\x24\xaa\x21\xa9\xed" + bytes(32))
        segwit = assemble(tpl.version, tpl.prev_hash, tpl.curtime, tpl.bits, [segwit_coinbase])
        outcomes = {
            "bad_root": await rpc.submit_block(bad_root.serialize()),
            "greedy": await rpc.submit_block(greedy.serialize()),
            "unsolved": await rpc.submit_block(unsolved.serialize()),
            "too_old": await rpc.submit_block(too_old.serialize()),
            "segwit": await rpc.submit_block(segwit.serialize()),
            "garbage": await rpc.submit_block(b"\x00\x01"),
        }
        assert await rpc.getbestblockhash() == tip
    assert {name: (r.accepted, r.reason) for name, r in outcomes.items()} == {
        "bad_root": (False, "bad-txnmrklroot"),
        "greedy": (False, "bad-cb-amount"),
        "unsolved": (False, "high-hash"),
        "too_old": (False, "time-too-old"),
        # BSV cannot read a witness serialization at all.
        "segwit": (False, "rpc error -22: Block does not start with a coinbase"),
        "garbage": (False, "rpc error -22: Block decode failed"),
    }


async def test_monitor_long_polls_bsv(bsv_nodes: BsvPair) -> None:
    async with BitcoindClient(bsv_nodes.a.url) as rpc:
        monitor = TemplateMonitor(rpc, MonitorConfig(poll_interval=0.2, long_poll_timeout=60.0))
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                await nursery.start(monitor.run)
                while monitor.current is None:
                    await trio.sleep(0.05)
                first = monitor.current
                # Node B mines; A learns it over P2P and answers the long poll.
                [new_hash] = await trio.to_thread.run_sync(bsv_nodes.b.rpc, "generatetoaddress", 1, MINING_ADDRESS)
                while monitor.current is None or monitor.current.prev_hash == first.prev_hash:
                    await trio.sleep(0.05)
                assert hash_to_hex(monitor.current.prev_hash) == new_hash
                assert monitor.health.healthy
                nursery.cancel_scope.cancel()
