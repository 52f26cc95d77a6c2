"""The pure devchain ChainState: extending, rejecting, side branches, reorgs, UTXO bookkeeping."""

from __future__ import annotations

from dataclasses import replace

from p2pool.devchain.chain import ChainState
from p2pool.devchain.params import COIN, DevchainParams, genesis_block
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.transaction import Transaction, TxIn, TxOut
from tests.fixtures.blocks import assemble, make_coinbase
from tests.fixtures.devchain import EASY, PAYOUT, mine, mine_on, now_for, template_for


def test_genesis() -> None:
    state = ChainState(EASY)
    genesis = genesis_block(EASY)
    assert state.height == 0
    assert state.tip.hash == genesis.header.hash() == state.genesis_hash
    assert sum(coin.output.value for coin in state.utxo.values()) == 50 * COIN
    assert len(state.utxo) == EASY.genesis_outputs
    assert genesis_block(DevchainParams(bits=0x1F00FFFF)).header.hash() != genesis.header.hash()


def test_extend_with_template_transactions() -> None:
    state = ChainState(EASY)
    tpl = template_for(state, now_for(state))
    assert len(tpl.transactions) == 4
    assert tpl.coinbase_value == 50 * COIN + tpl.total_fees()
    block = mine(state)
    result = state.add_block(block, now_for(state))
    assert result.status == "connected" and result.bip22() is None
    assert result.new_tip == block.header.hash()
    assert state.height == 1
    coinbase = block.transactions[0]
    assert state.utxo[(coinbase.txid(), 0)].output == TxOut(tpl.coinbase_value, PAYOUT)
    for tx in block.transactions[1:]:
        for txin in tx.inputs:
            assert (txin.prev_txid, txin.prev_index) not in state.utxo
    # Money is conserved: the fees moved from the spent coins into the coinbase.
    assert sum(c.output.value for c in state.utxo.values()) == 100 * COIN


def test_duplicate_and_unknown_parent() -> None:
    state = ChainState(EASY)
    block = mine(state)
    assert state.add_block(block, now_for(state)).status == "connected"
    again = state.add_block(block, now_for(state))
    assert (again.status, again.bip22()) == ("duplicate", "duplicate")
    orphan = assemble(0x20000000, b"\x11" * 32, now_for(state), EASY.bits,
                      [make_coinbase(2, [TxOut(1, PAYOUT)])])
    assert state.add_block(orphan, now_for(state)).bip22() == "prev-blk-not-found"


def test_coinbase_amount_and_height_rules() -> None:
    state = ChainState(EASY)
    tpl = template_for(state, now_for(state), mempool=False)
    when = now_for(state)
    greedy = assemble(tpl.version, tpl.prev_hash, when, tpl.bits,
                      [make_coinbase(1, [TxOut(tpl.coinbase_value + 1, PAYOUT)], commitment=tpl.witness_commitment)])
    assert state.add_block(greedy, when).bip22() == "bad-cb-amount"
    wrong_height = assemble(tpl.version, tpl.prev_hash, when, tpl.bits,
                            [make_coinbase(2, [TxOut(1, PAYOUT)], commitment=tpl.witness_commitment)])
    assert state.add_block(wrong_height, when).bip22() == "bad-cb-height"
    # A block that failed a contextual rule is remembered.
    assert state.add_block(wrong_height, when).bip22() == "duplicate-invalid"
    assert state.height == 0


def test_subsidy_halves_every_150_blocks() -> None:
    params = EASY
    assert params.subsidy(149) == 50 * COIN
    assert params.subsidy(150) == 25 * COIN
    assert params.subsidy(300) == 12.5 * COIN
    assert params.subsidy(150 * 64) == 0


def test_spending_a_missing_output_is_refused() -> None:
    state = ChainState(EASY)
    bogus = Transaction(2, (TxIn(b"\x42" * 32, 0, b""),), (TxOut(1000, PAYOUT),))
    block = mine(state, mempool=False, extra_txs=[bogus])
    assert state.add_block(block, now_for(state)).bip22() == "bad-txns-inputs-missingorspent"
    assert state.height == 0
    assert state.get(block.header.hash()) is None


def test_immature_coinbase_spend_is_refused() -> None:
    state = ChainState(EASY)
    first = mine_on(state, 1, mempool=False)[0]
    spend = Transaction(2, (TxIn(first.transactions[0].txid(), 0, b""),), (TxOut(1000, PAYOUT),))
    block = mine(state, mempool=False, extra_txs=[spend])
    assert state.add_block(block, now_for(state)).bip22() == "bad-txns-premature-spend-of-coinbase"


def test_time_rules_use_median_of_last_eleven() -> None:
    state = ChainState(EASY)
    mine_on(state, 11, mempool=False)
    mtp = state.median_time_past(state.tip.hash)
    tpl = template_for(state, mtp, mempool=False)
    assert tpl.mintime == mtp + 1
    coinbase = make_coinbase(tpl.height, [TxOut(1, PAYOUT)], commitment=tpl.witness_commitment)
    old = assemble(tpl.version, tpl.prev_hash, mtp, tpl.bits, [coinbase])
    assert state.add_block(old, mtp + 10).bip22() == "time-too-old"
    new = assemble(tpl.version, tpl.prev_hash, mtp + 7201, tpl.bits, [coinbase])
    assert state.add_block(new, mtp).bip22() == "time-too-new"
    assert state.add_block(new, mtp + 1).status == "connected"


def fork_block(state: ChainState, parent: Block, height: int, tag: bytes) -> Block:
    when = parent.header.timestamp + 1
    coinbase = make_coinbase(height, [TxOut(EASY.subsidy(height), PAYOUT)], tag=tag)
    return assemble(0x20000000, parent.header.hash(), when, EASY.bits, [coinbase])


def test_side_branch_then_reorg() -> None:
    state = ChainState(EASY)
    main = mine_on(state, 3)
    utxo_before = dict(state.utxo)
    side1 = fork_block(state, main[0], 2, b"side")
    assert state.add_block(side1, now_for(state)).bip22() == "inconclusive"
    side2 = fork_block(state, side1, 3, b"side")
    assert state.add_block(side2, now_for(state)).bip22() == "inconclusive"
    assert state.tip.hash == main[2].header.hash()
    side3 = fork_block(state, side2, 4, b"side")
    result = state.add_block(side3, now_for(state))
    assert result.status == "connected"
    assert result.disconnected == (main[2].header.hash(), main[1].header.hash())
    assert state.height == 4 and state.tip.hash == side3.header.hash()
    assert state.is_active(side1.header.hash()) and not state.is_active(main[1].header.hash())
    # The transactions of main[1] and main[2] are unconfirmed again: their inputs are back.
    undone = {tx.txid() for block in main[1:] for tx in block.transactions}
    for block in main[1:]:
        for tx in block.transactions[1:]:
            for txin in tx.inputs:
                assert (txin.prev_txid, txin.prev_index) in state.utxo or txin.prev_txid in undone
        assert (block.transactions[0].txid(), 0) not in state.utxo
    assert (side3.transactions[0].txid(), 0) in state.utxo
    assert state.utxo != utxo_before


def test_reorg_back_restores_the_same_utxo_set() -> None:
    state = ChainState(EASY)
    base = mine_on(state, 1)[0]
    main = mine_on(state, 2)
    snapshot = dict(state.utxo)
    side = [fork_block(state, base, 2, b"a")]
    side.append(fork_block(state, side[0], 3, b"a"))
    side.append(fork_block(state, side[1], 4, b"a"))
    for block in side:
        state.add_block(block, now_for(state))
    assert state.tip.hash == side[2].header.hash()
    # Extend the old branch to 5: the chain goes back and the UTXO set is the old one plus a coinbase.
    more = [fork_block(state, main[1], 4, b"b")]
    more.append(fork_block(state, more[0], 5, b"b"))
    for block in more:
        state.add_block(block, now_for(state))
    assert state.tip.hash == more[1].header.hash()
    expected = dict(snapshot)
    for block in more:
        expected[(block.transactions[0].txid(), 0)] = state.utxo[(block.transactions[0].txid(), 0)]
    assert state.utxo == expected


def test_reorg_onto_an_invalid_branch_is_rolled_back() -> None:
    state = ChainState(EASY)
    main = mine_on(state, 2, mempool=False)
    tip_before, utxo_before = state.tip.hash, dict(state.utxo)
    side1 = fork_block(state, main[0], 2, b"x")
    bogus = Transaction(2, (TxIn(b"\x42" * 32, 0, b""),), (TxOut(1000, PAYOUT),))
    coinbase = make_coinbase(3, [TxOut(EASY.subsidy(3), PAYOUT)])
    side2 = assemble(0x20000000, side1.header.hash(), side1.header.timestamp + 1, EASY.bits, [coinbase, bogus])
    assert state.add_block(side1, now_for(state)).bip22() == "inconclusive"
    result = state.add_block(side2, now_for(state))
    assert result.bip22() == "bad-txns-inputs-missingorspent"
    assert [index.hash for index in result.invalidated] == [side2.header.hash()]
    assert state.tip.hash == tip_before and state.utxo == utxo_before
    assert state.get(side1.header.hash()) is not None
    child = fork_block(state, side2, 4, b"x")
    assert state.add_block(child, now_for(state)).bip22() == "bad-prevblk"


def test_unsolved_block_is_high_hash() -> None:
    state = ChainState(DevchainParams(bits=0x1F00FFFF))
    tpl = template_for(state, now_for(state), mempool=False)
    coinbase = make_coinbase(1, [TxOut(1, PAYOUT)], commitment=tpl.witness_commitment)
    block = assemble(tpl.version, tpl.prev_hash, now_for(state), tpl.bits, [coinbase], mine=False)
    for nonce in range(1000):
        candidate = Block(replace(block.header, nonce=nonce), block.transactions)
        if int.from_bytes(candidate.header.hash(), "little") > state.params.target:
            assert state.add_block(candidate, now_for(state)).bip22() == "high-hash"
            return
    raise AssertionError("every nonce met the target")


def test_default_bits_take_about_2_to_the_24_hashes() -> None:
    work = DevchainParams().block_work
    assert abs(work - 2**24) < 2**24 // 1000
    assert DevchainParams().bits == 0x1E00FFFF
