"""Devchain validation against Bitcoin Core: the accepted block and its four broken variants.

The devchain context is set to Core's at height 211 (tip, median time, bits 207fffff) and the UTXO set
holds the mature coinbase outputs the template transactions spend (50 BTC each, regtest heights 1-4).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from p2pool.devchain.params import DevchainParams
from p2pool.devchain.validation import BlockContext, BlockInvalid, Coin, OutPoint, validate_block
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import hash_to_hex, hex_to_hash
from sharechain.bitcoin.script import witness_program
from sharechain.bitcoin.transaction import TxOut
from tests.fixtures.blocks import assemble, solve
from tests.fixtures.vectors import vector

PARAMS = DevchainParams(bits=0x207FFFFF)
KEY1 = witness_program(0, bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6"))


def accepted() -> dict[str, Any]:
    return vector("core-regtest-block-accepted.json")


def context() -> BlockContext:
    tpl = accepted()["template"]
    # mintime is the median time past + 1.
    return BlockContext(tpl["height"], hex_to_hash(tpl["previousblockhash"]), tpl["mintime"] - 1, tpl["curtime"])


def core_utxo(block: Block) -> dict[OutPoint, Coin]:
    """The confirmed coins the block's transactions spend: mature 50 BTC regtest coinbase outputs."""
    created = {tx.txid() for tx in block.transactions}
    utxo = {}
    for tx in block.transactions[1:]:
        for txin in tx.inputs:
            if txin.prev_txid not in created:
                utxo[(txin.prev_txid, txin.prev_index)] = Coin(TxOut(50 * 100_000_000, KEY1), 1, coinbase=True)
    return utxo


def good_block() -> Block:
    return Block.parse(bytes.fromhex(accepted()["block_hex"]))


def test_core_accepted_block_is_valid() -> None:
    block = good_block()
    assert hash_to_hex(block.header.hash()) == accepted()["block_hash"]
    utxo = core_utxo(block)
    assert len(utxo) == 4
    result = validate_block(block, context(), utxo, PARAMS)
    assert result.fees == 45000
    assert set(result.spent) == set(utxo)
    coinbase = block.transactions[0]
    assert (coinbase.txid(), 0) in result.created
    assert (coinbase.txid(), 2) not in result.created  # OP_RETURN commitment is unspendable
    # tx2's output is spent by tx3 inside the block, so it is neither spent from the UTXO set nor created.
    tx2 = block.transactions[1]
    assert (tx2.txid(), 0) not in result.created


@pytest.mark.parametrize("variant", [v["name"] for v in vector("core-regtest-block-rejected.json")["variants"]])
def test_core_rejected_variants_give_cores_reason(variant: str) -> None:
    data = next(v for v in vector("core-regtest-block-rejected.json")["variants"] if v["name"] == variant)
    block = Block.parse(bytes.fromhex(data["block_hex"]))
    assert hash_to_hex(block.header.hash()) == data["block_hash"]
    with pytest.raises(BlockInvalid) as info:
        validate_block(block, context(), core_utxo(good_block()), PARAMS)
    assert info.value.reason == data["submitblock_result"]


def remine(block: Block, **changes: Any) -> Block:
    txs = changes.pop("txs", block.transactions)
    header = block.header
    fresh = assemble(changes.get("version", header.version), changes.get("prev_hash", header.prev_hash),
                     changes.get("timestamp", header.timestamp), changes.get("bits", header.bits), txs, mine=False)
    return Block(solve(fresh.header), fresh.transactions)


def reason_for(block: Block, ctx: BlockContext | None = None, utxo: dict[OutPoint, Coin] | None = None,
               params: DevchainParams = PARAMS) -> str:
    with pytest.raises(BlockInvalid) as info:
        validate_block(block, ctx or context(), core_utxo(good_block()) if utxo is None else utxo, params)
    return info.value.reason


def test_high_hash() -> None:
    block = good_block()
    unsolved = Block(replace(block.header, nonce=block.header.nonce + 1), block.transactions)
    harder = DevchainParams(bits=0x1F00FFFF)
    assert reason_for(Block(replace(unsolved.header, bits=0x1F00FFFF), block.transactions), params=harder) == "high-hash"


def test_wrong_bits_for_devchain() -> None:
    assert reason_for(good_block(), params=DevchainParams(bits=0x207FFFFE)) == "bad-diffbits"


def test_time_rules() -> None:
    ctx = context()
    assert ctx.now is not None
    assert reason_for(remine(good_block(), timestamp=ctx.median_time_past)) == "time-too-old"
    too_new = remine(good_block(), timestamp=ctx.now + 2 * 3600 + 1)
    assert reason_for(too_new) == "time-too-new"
    assert validate_block(remine(good_block(), timestamp=ctx.now + 2 * 3600), ctx,
                          core_utxo(good_block()), PARAMS).fees == 45000


def test_missing_and_spent_inputs() -> None:
    block = good_block()
    utxo = core_utxo(block)
    del utxo[next(iter(utxo))]
    assert reason_for(block, utxo=utxo) == "bad-txns-inputs-missingorspent"


def test_premature_coinbase_spend() -> None:
    block = good_block()
    utxo = {op: replace(coin, height=150) for op, coin in core_utxo(block).items()}
    assert reason_for(block, utxo=utxo) == "bad-txns-premature-spend-of-coinbase"


def test_inputs_below_outputs() -> None:
    block = good_block()
    utxo = {op: replace(coin, output=TxOut(1000, KEY1)) for op, coin in core_utxo(block).items()}
    assert reason_for(block, utxo=utxo) == "bad-txns-in-belowout"


def test_coinbase_missing_and_multiple() -> None:
    block = good_block()
    assert reason_for(remine(block, txs=block.transactions[1:])) == "bad-cb-missing"
    assert reason_for(remine(block, txs=block.transactions + [block.transactions[0]])) == "bad-txns-duplicate"


def test_unexpected_witness_without_commitment() -> None:
    block = good_block()
    coinbase = block.transactions[0]
    stripped = replace(coinbase, outputs=coinbase.outputs[:2])
    assert reason_for(remine(block, txs=[stripped] + block.transactions[1:])) == "unexpected-witness"


def test_commitment_needs_the_reserved_value() -> None:
    block = good_block()
    coinbase = block.transactions[0]
    no_witness = replace(coinbase, inputs=(replace(coinbase.inputs[0], witness=()),))
    assert reason_for(remine(block, txs=[no_witness] + block.transactions[1:])) == "bad-witness-nonce-size"


def test_prev_hash_must_match_context() -> None:
    block = good_block()
    ctx = replace(context(), prev_hash=b"\x01" * 32)
    assert reason_for(block, ctx=ctx) == "inconclusive-not-best-prevblk"
