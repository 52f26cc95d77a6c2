"""The devchain's JSON-RPC over real HTTP on 127.0.0.1, driven by BitcoindClient; blocks mined in Python."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from p2pool.chain.backend import ChainUnavailable, RpcError
from p2pool.chain.rpc import BitcoindClient
from p2pool.chain.template import BlockTemplate
from p2pool.devchain.params import COIN
from p2pool.devchain.server import serve_devchain
from p2pool.devchain.service import Devchain, DevchainConfig
from p2pool.devchain.store import StoreMismatch
from sharechain.bitcoin.address import address_to_script
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.bitcoin.transaction import TxOut
from sharechain.params import REGTEST
from tests.fixtures.blocks import block_from_template, solve
from tests.fixtures.devchain import running_devchain

ADDRESS = "bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m"
PAYOUT = address_to_script(ADDRESS, REGTEST.address_format)


@pytest.fixture
def config(tmp_path: Path) -> DevchainConfig:
    return DevchainConfig(datadir=tmp_path / "devchain", port=0, bits=0x207FFFFF, longpoll_timeout=30.0)


@pytest.fixture
async def client(config: DevchainConfig) -> AsyncIterator[BitcoindClient]:
    async with running_devchain(config) as port, BitcoindClient(f"http://127.0.0.1:{port}") as rpc:
        yield rpc


async def mine_blocks(rpc: BitcoindClient, count: int) -> list[Block]:
    blocks = []
    for _ in range(count):
        block = block_from_template(await rpc.get_template(), PAYOUT)
        result = await rpc.submit_block(block.serialize())
        assert result.accepted and result.reason is None, result
        blocks.append(block)
    return blocks


async def test_template_has_real_transactions(client: BitcoindClient) -> None:
    tpl = await client.get_template()
    assert tpl.height == 1
    assert tpl.bits == 0x207FFFFF
    assert len(tpl.transactions) == 4
    assert any(tx.txid != tx.wtxid for tx in tpl.transactions)
    assert tpl.witness_commitment is not None
    assert tpl.coinbase_value == 50 * COIN + tpl.total_fees()
    assert tpl.longpollid


async def test_mine_and_read_back(client: BitcoindClient) -> None:
    blocks = await mine_blocks(client, 3)
    assert await client.getblockcount() == 3
    assert await client.getbestblockhash() == hash_to_hex(blocks[-1].header.hash())
    assert await client.getblockhash(2) == hash_to_hex(blocks[1].header.hash())
    best = hash_to_hex(blocks[-1].header.hash())
    assert await client.getblock(best, 0) == blocks[-1].serialize().hex()
    verbose = await client.getblock(best, 1)
    assert verbose["height"] == 3 and verbose["confirmations"] == 1 and verbose["nTx"] == 5
    assert verbose["tx"][0] == hash_to_hex(blocks[-1].transactions[0].txid())
    assert verbose["previousblockhash"] == hash_to_hex(blocks[1].header.hash())
    decoded = await client.getblock(best, 2)
    coinbase = decoded["tx"][0]
    assert "coinbase" in coinbase["vin"][0]
    assert coinbase["vin"][0]["txinwitness"] == ["00" * 32]
    payout = coinbase["vout"][0]
    assert payout["scriptPubKey"]["hex"] == PAYOUT.hex()
    assert payout["scriptPubKey"]["address"] == ADDRESS
    assert round(payout["value"] * COIN) == blocks[-1].transactions[0].outputs[0].value > 50 * COIN
    segwit = [tx for tx in decoded["tx"][1:] if tx["txid"] != tx["hash"]]
    assert segwit and segwit[0]["vin"][0]["txinwitness"] == ["51"]
    header = await client.call("getblockheader", best)
    assert header["hash"] == best and header["nTx"] == 5
    assert await client.call("getblockheader", best, False) == blocks[-1].header.serialize().hex()


async def test_chain_info_calls(client: BitcoindClient) -> None:
    await mine_blocks(client, 1)
    info = await client.getblockchaininfo()
    assert info["chain"] == "devchain" and info["blocks"] == 1 and info["initialblockdownload"] is False
    mining = await client.call("getmininginfo")
    assert mining["blocks"] == 1 and mining["pooledtx"] == 4
    network = await client.call("getnetworkinfo")
    assert network["subversion"].startswith("/Otedama-devchain")


async def test_submit_outcomes(client: BitcoindClient) -> None:
    stale_template = await client.get_template()
    [block] = await mine_blocks(client, 1)
    again = await client.submit_block(block.serialize())
    assert (again.accepted, again.reason) == (False, "duplicate")
    # A block on the old tip with equal work is kept on a side branch: "inconclusive", as Core says.
    side = block_from_template(stale_template, PAYOUT, tag=b"/side/")
    assert (await client.submit_block(side.serialize())).reason == "inconclusive"
    assert await client.getbestblockhash() == hash_to_hex(block.header.hash())
    broken = block_from_template(await client.get_template(), PAYOUT)
    broken = Block(solve(replace(broken.header, merkle_root=b"\x01" * 32)), broken.transactions)
    assert (await client.submit_block(broken.serialize())).reason == "bad-txnmrklroot"
    garbage = await client.submit_block(b"\x00\x01\x02")
    assert garbage == type(garbage)(False, "rpc error -22: Block decode failed")


async def test_rpc_errors(client: BitcoindClient) -> None:
    with pytest.raises(RpcError) as info:
        await client.call("nosuchmethod")
    assert info.value.code == -32601
    with pytest.raises(RpcError) as info:
        await client.getblockhash(99)
    assert (info.value.code, info.value.message) == (-8, "Block height out of range")
    with pytest.raises(RpcError) as info:
        await client.getblock("00" * 31)
    assert info.value.code == -8
    with pytest.raises(RpcError) as info:
        await client.getblock("11" * 32)
    assert (info.value.code, info.value.message) == (-5, "Block not found")
    with pytest.raises(RpcError) as info:
        await client.call("getblocktemplate", {})
    assert info.value.code == -8 and "segwit" in info.value.message
    with pytest.raises(RpcError) as info:
        await client.call("getblockhash", "one")
    assert info.value.code == -3


async def test_raw_json_rpc_framing(config: DevchainConfig) -> None:
    async with running_devchain(config) as port, httpx.AsyncClient() as http:
        url = f"http://127.0.0.1:{port}/"
        batch = await http.post(url, json=[{"id": 1, "method": "getblockcount", "params": []},
                                           {"id": 2, "method": "nope", "params": []}])
        assert [r["result"] for r in batch.json()] == [0, None]
        assert batch.json()[1]["error"]["code"] == -32601
        parse = await http.post(url, content=b"{not json")
        assert parse.status_code == 500 and parse.json()["error"]["code"] == -32700
        assert (await http.post(url, json="x")).json()["error"]["code"] == -32600
        assert (await http.get(url)).status_code == 405


async def test_proposal_mode(client: BitcoindClient) -> None:
    tpl = await client.get_template()
    block = block_from_template(tpl, PAYOUT)
    assert await client.call("getblocktemplate", {"mode": "proposal", "data": block.serialize().hex()}) is None
    greedy = block_from_template(tpl, [TxOut(tpl.coinbase_value + 1, PAYOUT)])
    proposal = {"mode": "proposal", "data": greedy.serialize().hex()}
    assert await client.call("getblocktemplate", proposal) == "bad-cb-amount"
    assert await client.getblockcount() == 0
    assert (await client.submit_block(block.serialize())).accepted
    proposal = {"mode": "proposal", "data": block.serialize().hex()}
    assert await client.call("getblocktemplate", proposal) == "duplicate"


async def test_long_poll_returns_on_new_block(config: DevchainConfig) -> None:
    devchain = Devchain(config)
    results: list[BlockTemplate] = []
    try:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(partial(serve_devchain, config, devchain=devchain))
            async with BitcoindClient(f"http://127.0.0.1:{port}") as rpc:
                tpl = await rpc.get_template()

                async def poll() -> None:
                    results.append(await rpc.wait_for_template(tpl.longpollid or ""))

                with trio.fail_after(20):
                    nursery.start_soon(poll)
                    while devchain.long_polls_waiting == 0:
                        await trio.sleep(0.01)
                    assert not results
                    [block] = await mine_blocks(rpc, 1)
                    while not results:
                        await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    finally:
        devchain.close()
    assert results[0].prev_hash == block.header.hash()
    assert results[0].height == 2


async def test_long_poll_times_out_with_the_same_tip(tmp_path: Path) -> None:
    config = DevchainConfig(datadir=tmp_path, port=0, bits=0x207FFFFF, longpoll_timeout=0.2)
    async with running_devchain(config) as port, BitcoindClient(f"http://127.0.0.1:{port}") as rpc:
        tpl = await rpc.get_template()
        with trio.fail_after(10):
            again = await rpc.wait_for_template(tpl.longpollid or "")
        assert again.prev_hash == tpl.prev_hash
        # An outdated longpollid returns at once.
        await mine_blocks(rpc, 1)
        with trio.fail_after(10):
            fresh = await rpc.wait_for_template(tpl.longpollid or "")
        assert fresh.height == 2


async def test_restart_reloads_from_leveldb(config: DevchainConfig) -> None:
    async with running_devchain(config) as port, BitcoindClient(f"http://127.0.0.1:{port}") as rpc:
        old_template = await rpc.get_template()
        blocks = await mine_blocks(rpc, 4)
        next_template = await rpc.get_template()
        side = block_from_template(old_template, PAYOUT, tag=b"/side/")
        assert (await rpc.submit_block(side.serialize())).reason == "inconclusive"
    async with running_devchain(config) as port, BitcoindClient(f"http://127.0.0.1:{port}") as rpc:
        assert await rpc.getblockcount() == 4
        assert await rpc.getbestblockhash() == hash_to_hex(blocks[-1].header.hash())
        assert (await rpc.submit_block(blocks[2].serialize())).reason == "duplicate"
        # The UTXO set was rebuilt too: the same mempool is generated.
        assert (await rpc.get_template()).other_txids() == next_template.other_txids()
        # The side branch block was kept.
        side_info = await rpc.getblock(hash_to_hex(side.header.hash()))
        assert (side_info["height"], side_info["confirmations"]) == (1, -1)
        more = await mine_blocks(rpc, 1)
        assert (await rpc.getblock(hash_to_hex(more[0].header.hash())))["height"] == 5


def test_datadir_with_other_bits_is_refused(config: DevchainConfig) -> None:
    Devchain(config).close()
    with pytest.raises(StoreMismatch, match="different bits"):
        Devchain(replace(config, bits=0x1F00FFFF))
    Devchain(config).close()


async def test_basic_auth(config: DevchainConfig) -> None:
    secured = replace(config, rpc_user="alice", rpc_password="s3cret")
    async with running_devchain(secured) as port:
        async with BitcoindClient(f"http://alice:s3cret@127.0.0.1:{port}") as rpc:
            assert await rpc.getblockcount() == 0
        async with BitcoindClient(f"http://alice:wrong@127.0.0.1:{port}") as rpc:
            with pytest.raises(ChainUnavailable) as info:
                await rpc.getblockcount()
        message = str(info.value)
        assert "401" in message and f"http://alice@127.0.0.1:{port}/" in message and "wrong" not in message
        async with BitcoindClient(f"http://127.0.0.1:{port}") as rpc:
            with pytest.raises(ChainUnavailable, match="401"):
                await rpc.getblockcount()


async def test_cookie_auth(config: DevchainConfig) -> None:
    cookied = replace(config, cookie=True)
    async with running_devchain(cookied) as port:
        first_cookie = cookied.cookie_path.read_text()
        assert first_cookie.startswith("__cookie__:")
        rpc = BitcoindClient(f"http://127.0.0.1:{port}", cookie_file=cookied.cookie_path)
        assert await rpc.getblockcount() == 0
    assert not cookied.cookie_path.exists()
    with pytest.raises(ChainUnavailable, match="cannot read cookie file"):
        await rpc.getblockcount()
    # Restarted on the same port with a new cookie: the same client reads the new one.
    async with running_devchain(replace(cookied, port=port)):
        assert cookied.cookie_path.read_text() != first_cookie
        assert await rpc.getblockcount() == 0
    await rpc.aclose()


async def test_connection_refused_is_unavailable(config: DevchainConfig) -> None:
    async with running_devchain(config) as port:
        pass
    async with BitcoindClient(f"http://user:pw@127.0.0.1:{port}") as rpc:
        with pytest.raises(ChainUnavailable) as info:
            await rpc.get_template()
    assert "cannot connect" in str(info.value)
    assert f"http://user@127.0.0.1:{port}/" in str(info.value) and "pw" not in str(info.value)
