"""The devchain mempool generator: real segwit and legacy transactions, parents before children."""

from __future__ import annotations

from p2pool.devchain.chain import ChainState
from p2pool.devchain.mempool import generate_mempool
from p2pool.devchain.params import ANYONE_CAN_SPEND, OP_TRUE_SCRIPT, P2WSH_OP_TRUE
from p2pool.devchain.validation import Coin, OutPoint, connect_transactions
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.header import BlockHeader
from sharechain.bitcoin.transaction import NULL_HASH, Transaction, TxIn, TxOut
from tests.fixtures.devchain import EASY, mine_on


def generated(state: ChainState) -> list:
    return generate_mempool(state.utxo, state.height + 1, state.tip.hash, state.params)


def test_mix_of_segwit_legacy_and_unconfirmed_parents() -> None:
    state = ChainState(EASY)
    txs = generated(state)
    assert len(txs) == 4
    assert [m.tx.has_witness for m in txs] == [True, False, False, True]
    assert [m.depends for m in txs] == [(), (1,), (), (3,)]
    child, parent = txs[1].tx, txs[0].tx
    assert child.inputs[0].prev_txid == parent.txid()
    assert txs[3].tx.inputs[0].prev_txid == txs[2].tx.txid()
    assert len(txs[3].tx.inputs) == 3  # consolidates two confirmed coins
    for m in txs:
        assert m.tx.txid() != m.tx.wtxid() if m.tx.has_witness else m.tx.txid() == m.tx.wtxid()
        for txin in m.tx.inputs:
            assert txin.witness in ((), (OP_TRUE_SCRIPT,))
        assert all(out.script_pubkey in ANYONE_CAN_SPEND for out in m.tx.outputs)


def test_fees_are_inputs_minus_outputs_and_the_set_is_valid() -> None:
    state = ChainState(EASY)
    txs = generated(state)
    coinbase = Transaction(1, (TxIn(NULL_HASH, 0xFFFFFFFF, b"\x51\x00"),), (TxOut(0, b"\x51"),))
    block = Block(BlockHeader(4, state.tip.hash, b"\x00" * 32, 0, EASY.bits, 0), [coinbase] + [m.tx for m in txs])
    result = connect_transactions(block, 1, state.utxo, EASY)
    assert result.fees == sum(m.fee for m in txs) > 0
    available: dict[OutPoint, Coin] = dict(state.utxo)
    for m in txs:
        value_in = 0
        for txin in m.tx.inputs:
            value_in += available.pop((txin.prev_txid, txin.prev_index)).output.value
        assert value_in - m.tx.total_out() == m.fee
        for n, out in enumerate(m.tx.outputs):
            available[(m.tx.txid(), n)] = Coin(out, 1, False)


def test_stable_per_tip() -> None:
    state = ChainState(EASY)
    assert [m.tx.txid() for m in generated(state)] == [m.tx.txid() for m in generated(state)]


def test_long_run_keeps_the_fund_bounded() -> None:
    state = ChainState(EASY)
    blocks = mine_on(state, 160)
    assert state.height == 160
    assert all(len(block.transactions) == 5 for block in blocks)
    fund = [c for c in state.utxo.values() if c.output.script_pubkey in (OP_TRUE_SCRIPT, P2WSH_OP_TRUE)]
    assert len(fund) <= EASY.genesis_outputs + 4
    # Past the first halving the coinbase carries 25 BTC plus fees.
    assert blocks[-1].transactions[0].total_out() > 25 * 100_000_000
    assert blocks[-1].transactions[0].total_out() < 26 * 100_000_000
