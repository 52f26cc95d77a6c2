"""Every Rejection is produced by the rule it names, on a real (mined) share added to a real chain, with its blame."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from sharechain.bitcoin.block import WITNESS_COMMITMENT_HEADER
from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.target import bits_to_target, target_to_bits
from sharechain.bitcoin.transaction import Transaction, TxIn, TxOut
from sharechain.chain import ShareChain
from sharechain.rejection import Blame, InvalidShare, Rejection
from sharechain.result import AddResult, AddStatus
from sharechain.share import Share, ShareInfo
from tests.sharechain.miner import TEST_PARAMS, coinbase_for, grind, mine_on, script, solve

T0 = 1_700_000_000
VALUE = 10**8


def refused(result: AddResult, rejection: Rejection) -> None:
    """``result`` is a refusal for ``rejection``, with its human text."""
    assert result.status is AddStatus.INVALID, result
    assert result.rejection is rejection, (result.rejection, result.error)
    assert result.error, "a refusal always says why in words"


def chain_of(n: int, *, step: int = 1) -> tuple[ShareChain, list[Share]]:
    chain = ShareChain(TEST_PARAMS)
    shares = []
    for i in range(n):
        share = mine_on(chain, 1 + i % 2, T0 + i * step)
        assert chain.add(share, now=T0 + i * step).status is AddStatus.ADDED
        shares.append(share)
    return chain, shares


def next_info(chain: ShareChain, now: int, **changes: Any) -> tuple[ShareInfo, list]:
    info, payouts = chain.prepare(script(3), now, VALUE)
    return dataclasses.replace(info, **changes), payouts


def unsolved(share: Share) -> Share:
    """``share`` with a nonce whose header hash misses its share target (everything else intact)."""
    target = bits_to_target(share.info.share_bits)
    for nonce in range(share.header.nonce + 1, share.header.nonce + 100_000):
        header = dataclasses.replace(share.header, nonce=nonce)
        if hash_to_int(header.hash()) > target:
            return Share.create(header, share.coinbase, share.merkle_branch, share.info)
    raise AssertionError("every nonce meets the target")


def with_outputs(info: ShareInfo, payouts: list, change) -> Share:
    """A share for ``info`` whose coinbase outputs are ``change(outputs)``, mined."""
    coinbase = coinbase_for(info, payouts, TEST_PARAMS)
    return solve(info, dataclasses.replace(coinbase, outputs=tuple(change(list(coinbase.outputs)))))


# --- the target and the proof of work -----------------------------------------------------------------------
def test_bad_target_encoding() -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5)
    good = grind(info, payouts, TEST_PARAMS)
    negative = dataclasses.replace(info, share_bits=0x1D800001)
    refused(chain.add(Share.create(good.header, good.coinbase, good.merkle_branch, negative), now=T0 + 5),
            Rejection.BAD_TARGET_ENCODING)


def test_target_easier_than_the_network_minimum() -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5, share_bits=target_to_bits(TEST_PARAMS.max_share_target * 2))
    refused(chain.add(grind(info, payouts, TEST_PARAMS), now=T0 + 5), Rejection.TARGET_TOO_EASY)


def test_target_off_the_retarget_rule() -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5)
    harder = dataclasses.replace(info, share_bits=target_to_bits(bits_to_target(info.share_bits) // 2))
    refused(chain.add(grind(harder, payouts, TEST_PARAMS), now=T0 + 5), Rejection.RETARGET_MISMATCH)


def test_proof_of_work() -> None:
    chain, _ = chain_of(2)
    refused(chain.add(unsolved(mine_on(chain, 3, T0 + 5)), now=T0 + 5), Rejection.PROOF_OF_WORK)


# --- the coinbase and the share's own fields ------------------------------------------------------------------
def test_first_transaction_not_a_coinbase() -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5)
    coinbase = coinbase_for(info, payouts, TEST_PARAMS)
    spend = TxIn(sha256d(b"a real output"), 0, coinbase.inputs[0].script_sig)
    refused(chain.add(solve(info, Transaction(1, (spend,), coinbase.outputs)), now=T0 + 5), Rejection.NOT_COINBASE)


def test_script_sig_size() -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5)
    refused(chain.add(grind(info, payouts, TEST_PARAMS, extra=b"x" * 100), now=T0 + 5), Rejection.SCRIPT_SIG_SIZE)


def test_merkle_branch() -> None:
    chain, _ = chain_of(2)
    good = mine_on(chain, 3, T0 + 5)
    cut = Share.create(good.header, good.coinbase, good.merkle_branch[:1], good.info)
    refused(chain.add(cut, now=T0 + 5), Rejection.MERKLE_BRANCH)


def test_first_share_mismatch() -> None:
    chain = ShareChain(TEST_PARAMS)
    info, payouts = next_info(chain, T0, height=1)  # no parent, yet not height 0
    refused(chain.add(grind(info, payouts, TEST_PARAMS), now=T0), Rejection.FIRST_SHARE_MISMATCH)


def test_empty_payout_script() -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5, payout_script=b"")
    refused(chain.add(grind(info, payouts, TEST_PARAMS), now=T0 + 5), Rejection.EMPTY_PAYOUT_SCRIPT)


def test_too_many_uncles() -> None:
    chain, _ = chain_of(2)
    uncles = tuple(sha256d(bytes([i])) for i in range(TEST_PARAMS.max_uncles + 1))
    info, payouts = next_info(chain, T0 + 5, uncles=uncles)
    refused(chain.add(grind(info, payouts, TEST_PARAMS), now=T0 + 5), Rejection.TOO_MANY_UNCLES)


def test_repeated_uncle() -> None:
    chain, shares = chain_of(3)
    info, payouts = next_info(chain, T0 + 5, uncles=(shares[1].hash, shares[1].hash))
    refused(chain.add(grind(info, payouts, TEST_PARAMS), now=T0 + 5), Rejection.REPEATED_UNCLE)


def test_commitment_missing() -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5)
    other_network = dataclasses.replace(TEST_PARAMS, name="other")
    refused(chain.add(grind(info, payouts, other_network), now=T0 + 5), Rejection.COMMITMENT_MISSING)


def test_commitment_repeated() -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5)
    share = with_outputs(info, payouts, lambda outs: outs + [outs[-1]])
    refused(chain.add(share, now=T0 + 5), Rejection.COMMITMENT_REPEATED)


@pytest.mark.parametrize("trailing", [
    TxOut(1, b"\x51"),  # anything but a witness commitment
    TxOut(1, WITNESS_COMMITMENT_HEADER + b"\x00" * 32),  # a witness commitment that carries value
])
def test_unexpected_outputs_after_the_commitment(trailing: TxOut) -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5)
    refused(chain.add(with_outputs(info, payouts, lambda outs: outs + [trailing]), now=T0 + 5),
            Rejection.UNEXPECTED_OUTPUTS)


WITNESS = TxOut(0, WITNESS_COMMITMENT_HEADER + b"\x00" * 32)


@pytest.mark.parametrize(("change", "refusal"), [
    (lambda outs: outs + [WITNESS], None),  # one witness commitment after it: the layout of a block
    (lambda outs: outs + [WITNESS, WITNESS], Rejection.UNEXPECTED_OUTPUTS),
    (lambda outs: outs + [WITNESS, TxOut(0, b"\x51")], Rejection.UNEXPECTED_OUTPUTS),
    (lambda outs: outs[:-1] + [TxOut(1, outs[-1].script_pubkey)], Rejection.UNEXPECTED_OUTPUTS),  # it carries value
])
def test_what_may_follow_the_commitment(change: Any, refusal: Rejection | None) -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5)
    result = chain.add(with_outputs(info, payouts, change), now=T0 + 5)
    if refusal is None:
        assert result.status is AddStatus.ADDED
    else:
        refused(result, refusal)


# --- the share's place on the chain -------------------------------------------------------------------------
def test_height_does_not_follow_the_parent() -> None:
    chain, _ = chain_of(2)
    info, payouts = next_info(chain, T0 + 5)
    refused(chain.add(grind(dataclasses.replace(info, height=info.height + 1), payouts, TEST_PARAMS), now=T0 + 5),
            Rejection.PARENT_HEIGHT)


def test_timestamp_not_after_the_median() -> None:
    chain, _ = chain_of(5, step=10)
    info, payouts = next_info(chain, T0 + 100, timestamp=T0 + 1)
    refused(chain.add(grind(info, payouts, TEST_PARAMS), now=T0 + 100), Rejection.TIMESTAMP_NOT_AFTER_MEDIAN)


def test_timestamp_ahead_of_our_clock_is_nobodys_fault() -> None:
    chain, _ = chain_of(2)
    now = T0 + 5
    info, payouts = next_info(chain, now, timestamp=now + TEST_PARAMS.max_future_seconds + 1)
    share = grind(info, payouts, TEST_PARAMS)
    result = chain.add(share, now=now)
    refused(result, Rejection.TIMESTAMP_IN_FUTURE)
    assert result.rejection is not None and result.rejection.blame is Blame.NOBODY
    # Once our clock has caught up, the very same share is fine.
    assert chain.add(share, now=now + 1).status is AddStatus.ADDED


# --- uncles ----------------------------------------------------------------------------------------------------
def test_uncle_too_deep() -> None:
    chain, shares = chain_of(8)
    side = mine_on(chain, 2, T0 + 20, parent=shares[1].hash)
    assert chain.add(side, now=T0 + 20).status is AddStatus.ADDED
    refused(chain.add(mine_on(chain, 1, T0 + 21, uncles=(side.hash,)), now=T0 + 21), Rejection.UNCLE_DEPTH)


def test_first_share_as_an_uncle() -> None:
    chain, shares = chain_of(2)
    share = mine_on(chain, 3, T0 + 5, uncles=(shares[0].hash,))
    refused(chain.add(share, now=T0 + 5), Rejection.UNCLE_IS_FIRST_SHARE)


def test_uncle_not_branching_off_the_chain() -> None:
    chain, shares = chain_of(4)
    side1 = mine_on(chain, 2, T0 + 10, parent=shares[0].hash, uncles=())
    chain.add(side1, now=T0 + 10)
    side2 = mine_on(chain, 2, T0 + 11, parent=side1.hash, uncles=())
    chain.add(side2, now=T0 + 11)
    assert side2.hash in chain and chain.tip is not None and chain.tip.hash == shares[-1].hash
    # side2 (height 2) has side1 for parent, not this chain's share at height 1.
    refused(chain.add(mine_on(chain, 3, T0 + 12, uncles=(side2.hash,)), now=T0 + 12), Rejection.UNCLE_NOT_BRANCHING)


def test_uncle_on_the_share_own_chain() -> None:
    chain, shares = chain_of(8)
    refused(chain.add(mine_on(chain, 1, T0 + 20, uncles=(shares[-2].hash,)), now=T0 + 20),
            Rejection.UNCLE_ON_OWN_CHAIN)


def test_uncle_already_included_by_an_ancestor() -> None:
    chain, shares = chain_of(3)
    side = mine_on(chain, 2, T0 + 10, parent=shares[-2].hash, uncles=())
    chain.add(side, now=T0 + 10)
    # (side may be the tip now: equal work, lower hash; the nephew builds on the share it branches from.)
    nephew = mine_on(chain, 3, T0 + 11, parent=shares[-1].hash, uncles=(side.hash,))
    assert chain.add(nephew, now=T0 + 11).status is AddStatus.ADDED
    again = mine_on(chain, 3, T0 + 12, parent=nephew.hash, uncles=(side.hash,))
    refused(chain.add(again, now=T0 + 12), Rejection.UNCLE_ALREADY_INCLUDED)


# --- the keep rule ------------------------------------------------------------------------------------------------
def test_fork_too_deep_below_the_floor() -> None:
    params = dataclasses.replace(TEST_PARAMS, reorg_margin=4)
    chain = ShareChain(params)
    shares = []
    for i in range(12):
        shares.append(mine_on(chain, 1 + i % 2, T0 + i))
        assert chain.add(shares[-1], now=T0 + i).status is AddStatus.ADDED
    assert chain.horizon.floor == 11 - 4
    # A fork off the share at the floor is followed; one a height lower is nobody's fault but refused.
    assert chain.add(mine_on(chain, 3, T0 + 20, parent=shares[7].hash, uncles=()), now=T0 + 20).status \
        is AddStatus.ADDED
    deep = mine_on(chain, 3, T0 + 21, parent=shares[6].hash, uncles=())
    refused(chain.add(deep, now=T0 + 21), Rejection.FORK_TOO_DEEP)
    assert Rejection.FORK_TOO_DEEP.blame is Blame.NOBODY


# --- payouts ----------------------------------------------------------------------------------------------------
def test_payouts_differ_from_pplns() -> None:
    chain, _ = chain_of(3)
    info, payouts = next_info(chain, T0 + 10)
    stolen = [(script(3), sum(a for _, a in payouts))]
    refused(chain.add(grind(info, payouts, TEST_PARAMS, value_override=stolen), now=T0 + 10),
            Rejection.PAYOUTS_DIFFER)


# --- the enum itself ------------------------------------------------------------------------------------------
def test_only_our_clock_or_our_tip_make_it_nobodys_fault() -> None:
    assert {r for r in Rejection if r.blame is Blame.NOBODY} == {Rejection.TIMESTAMP_IN_FUTURE, Rejection.FORK_TOO_DEEP}
    assert len({r.value for r in Rejection}) == len(Rejection) and all(r.summary for r in Rejection)


def test_invalid_share_carries_rule_and_words() -> None:
    exc = InvalidShare(Rejection.MERKLE_BRANCH)
    assert exc.rejection is Rejection.MERKLE_BRANCH and exc.detail == str(exc) == Rejection.MERKLE_BRANCH.summary
    assert InvalidShare(Rejection.PARENT_HEIGHT, "height 7 after 3").detail == "height 7 after 3"


def test_every_rejection_has_a_test_here() -> None:
    """Each member is the expected reason of some ``refused(...)`` check in this file."""
    tree = ast.parse(Path(__file__).read_text())
    checked = {node.args[1].attr for node in ast.walk(tree)
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "refused"
               and isinstance(node.args[1], ast.Attribute)}
    assert checked == {r.name for r in Rejection}, sorted({r.name for r in Rejection} ^ checked)
