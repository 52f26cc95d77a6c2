"""The rules as pure functions of (share, context, params, now), and the order the chain runs them in."""

from __future__ import annotations

import dataclasses

import pytest

from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.target import bits_to_target, target_to_bits
from sharechain.chain import ShareChain
from sharechain.context import ShareContext, UncleFacts
from sharechain.pplns import split_reward
from sharechain.record import ShareRecord
from sharechain.rejection import InvalidShare, Rejection
from sharechain.result import AddStatus, Refusal
from sharechain.share import Share, ShareInfo
from sharechain.validation import CoinbasePayouts, check_in_context, check_payouts, uncle_rejection
from tests.sharechain.miner import TEST_PARAMS, grind, mine_on, script

T0 = 1_700_000_000
VALUE = 10**8


def chain_of(n: int) -> tuple[ShareChain, list[Share]]:
    chain = ShareChain(TEST_PARAMS)
    shares = []
    for i in range(n):
        share = mine_on(chain, 1 + i % 2, T0 + i)
        assert chain.add(share, now=T0 + i).status is AddStatus.ADDED
        shares.append(share)
    return chain, shares


def without_pow(share: Share) -> Share:
    """``share`` with a nonce whose hash misses its target."""
    target = bits_to_target(share.info.share_bits)
    nonce = next(n for n in range(share.header.nonce + 1, share.header.nonce + 100_000)
                 if hash_to_int(dataclasses.replace(share.header, nonce=n).hash()) > target)
    return Share.create(dataclasses.replace(share.header, nonce=nonce), share.coinbase, share.merkle_branch, share.info)


def reason(chain: ShareChain, share: Share, now: int) -> Rejection | None:
    return chain.add(share, now=now).rejection


# --- the pure rules, on contexts built by hand ---------------------------------------------------------------------
INFO = ShareInfo(sha256d(b"parent"), 5, T0, 0x1F00FFFF, script(1), ())
CONTEXT = ShareContext(parent=None, expected_bits=0x1F00FFFF, median_time=None, uncles=())


def rule(info: ShareInfo, context: ShareContext, now: int = T0) -> Rejection | None:
    try:
        check_in_context(info, context, TEST_PARAMS, now)
    except InvalidShare as exc:
        return exc.rejection
    return None


def test_in_context_rules_read_only_the_context() -> None:
    parent = ShareRecord(INFO.prev_hash, sha256d(b"grandparent"), 4, T0 - 1, 0x1F00FFFF, script(2), ())
    ok = dataclasses.replace(CONTEXT, parent=parent, median_time=T0 - 1)
    assert rule(INFO, ok) is None
    assert rule(INFO, dataclasses.replace(ok, parent=None)) is Rejection.PARENT_HEIGHT
    assert rule(INFO, dataclasses.replace(ok, expected_bits=0x1F00FFFE)) is Rejection.RETARGET_MISMATCH
    assert rule(INFO, dataclasses.replace(ok, median_time=T0)) is Rejection.TIMESTAMP_NOT_AFTER_MEDIAN
    assert rule(INFO, ok, now=T0 - TEST_PARAMS.max_future_seconds - 1) is Rejection.TIMESTAMP_IN_FUTURE
    assert rule(INFO, ok, now=T0 - TEST_PARAMS.max_future_seconds) is None
    fine = UncleFacts(sha256d(b"uncle"), 3, branches_off=True)
    assert rule(INFO, dataclasses.replace(ok, uncles=(fine,))) is None
    assert rule(INFO, dataclasses.replace(ok, uncles=(fine, dataclasses.replace(fine, on_own_chain=True)))) \
        is Rejection.UNCLE_ON_OWN_CHAIN


@pytest.mark.parametrize(("facts", "expected"), [
    (UncleFacts(b"u" * 32, 4, branches_off=True), None),
    (UncleFacts(b"u" * 32, 2, branches_off=True), None),
    (UncleFacts(b"u" * 32, 1, branches_off=True), Rejection.UNCLE_DEPTH),  # 5 - uncle_depth(3) = 2
    (UncleFacts(b"u" * 32, 5, branches_off=True), Rejection.UNCLE_DEPTH),  # not below the share
    (UncleFacts(b"u" * 32, 0, branches_off=True), Rejection.UNCLE_DEPTH),
    (UncleFacts(b"u" * 32, 3), Rejection.UNCLE_NOT_BRANCHING),
    (UncleFacts(b"u" * 32, 3, branches_off=True, on_own_chain=True), Rejection.UNCLE_ON_OWN_CHAIN),
    (UncleFacts(b"u" * 32, 3, branches_off=True, already_included=True), Rejection.UNCLE_ALREADY_INCLUDED),
])
def test_uncle_rule_on_facts(facts: UncleFacts, expected: Rejection | None) -> None:
    assert uncle_rejection(5, facts, TEST_PARAMS) is expected


def test_first_share_cannot_be_an_uncle_within_depth() -> None:
    assert uncle_rejection(2, UncleFacts(b"u" * 32, 0, branches_off=True), TEST_PARAMS) is Rejection.UNCLE_IS_FIRST_SHARE


def test_payout_rule_on_given_weights() -> None:
    weights = {script(1): 3, script(2): 1}
    exact = split_reward(VALUE, weights, script(1), TEST_PARAMS)
    check_payouts(INFO, CoinbasePayouts(exact, VALUE), weights, TEST_PARAMS)
    with pytest.raises(InvalidShare) as caught:
        check_payouts(INFO, CoinbasePayouts(exact, VALUE), {script(2): 1}, TEST_PARAMS)
    assert caught.value.rejection is Rejection.PAYOUTS_DIFFER


# --- the context the chain gathers -------------------------------------------------------------------------------
def test_chain_gathers_the_facts_the_rules_read() -> None:
    chain, shares = chain_of(6)
    side = mine_on(chain, 2, T0 + 10, parent=shares[3].hash, uncles=())
    chain.add(side, now=T0 + 10)
    far = mine_on(chain, 2, T0 + 10, parent=shares[0].hash, uncles=())
    chain.add(far, now=T0 + 10)
    tip = chain.tip
    assert tip is not None and tip.hash == shares[-1].hash
    info = ShareInfo(tip.hash, tip.height + 1, T0 + 11, chain.next_bits(tip), script(1),
                     (side.hash, shares[4].hash, far.hash))
    context = chain.context(info)
    assert context.parent is tip and context.expected_bits == chain.next_bits(tip)
    assert context.median_time == chain.median_time(tip)
    assert context.uncles == (
        UncleFacts(side.hash, 4, branches_off=True),
        UncleFacts(shares[4].hash, 4, branches_off=True, on_own_chain=True),
        UncleFacts(far.hash, 1),  # out of reach: no walk, the depth rule refuses it
    )
    first = chain.context(ShareInfo(b"\x00" * 32, 0, T0, chain.next_bits(None), script(1)))
    assert first.parent is None and first.median_time is None
    assert chain.uncle_candidates(tip) == [side.hash]


# --- the order: cheap checks first, the PPLNS window last ---------------------------------------------------------
def test_duplicates_are_known_before_any_rule() -> None:
    chain, shares = chain_of(3)
    # Long before the share's time (it would be "in the future"): still just a duplicate.
    assert chain.add(shares[-1], now=T0 - 10_000).status is AddStatus.DUPLICATE
    _, more = chain_of(6)
    orphan = more[5]
    assert chain.add(orphan, now=T0 + 10).status is AddStatus.ORPHAN
    assert chain.add(orphan, now=T0 - 10_000).status is AddStatus.DUPLICATE


def test_target_rules_come_before_proof_of_work() -> None:
    chain, _ = chain_of(2)
    info, payouts = chain.prepare(script(3), T0 + 5, VALUE)
    harder = dataclasses.replace(info, share_bits=target_to_bits(bits_to_target(info.share_bits) // 2))
    share = without_pow(grind(harder, payouts, TEST_PARAMS))
    assert reason(chain, share, T0 + 5) is Rejection.RETARGET_MISMATCH
    negative = dataclasses.replace(info, share_bits=0x1D800001)
    broken = Share.create(share.header, share.coinbase, share.merkle_branch, negative)
    assert reason(chain, broken, T0 + 5) is Rejection.BAD_TARGET_ENCODING


def test_proof_of_work_comes_before_merkle_and_layout() -> None:
    chain, _ = chain_of(3)
    share = without_pow(mine_on(chain, 3, T0 + 5))
    cut = Share.create(share.header, share.coinbase, share.merkle_branch[:1], share.info)
    assert reason(chain, cut, T0 + 5) is Rejection.PROOF_OF_WORK
    foreign = grind(share.info, [], dataclasses.replace(TEST_PARAMS, name="other"))
    assert reason(chain, without_pow(foreign), T0 + 5) is Rejection.PROOF_OF_WORK


def test_merkle_and_layout_come_before_uncles_and_time() -> None:
    chain, shares = chain_of(8)
    share = mine_on(chain, 1, T0 + 20, uncles=(shares[-2].hash,))  # an uncle on its own chain
    cut = Share.create(share.header, share.coinbase, share.merkle_branch[:1], share.info)
    assert reason(chain, cut, T0 + 20) is Rejection.MERKLE_BRANCH
    assert reason(chain, share, T0 + 20) is Rejection.UNCLE_ON_OWN_CHAIN


@pytest.mark.parametrize("fault", ["uncle", "future", "median", "proof"])
def test_a_share_failing_before_the_payout_check_computes_no_window(fault: str) -> None:
    """Each share here also pays wrongly, yet is refused for its earlier fault, and the chain's count of
    PPLNS window computations does not move."""
    chain, shares = chain_of(8)
    now = T0 + 20
    info, payouts = chain.prepare(script(3), now, VALUE)
    if fault == "uncle":
        info = dataclasses.replace(info, uncles=(shares[-2].hash,))
    elif fault == "future":
        info = dataclasses.replace(info, timestamp=now + TEST_PARAMS.max_future_seconds + 1)
    elif fault == "median":
        info = dataclasses.replace(info, timestamp=T0)
    stolen = [(script(3), sum(a for _, a in payouts))]
    share = grind(info, payouts, TEST_PARAMS, value_override=stolen)
    if fault == "proof":
        share = without_pow(share)
    before = chain.windows_computed
    result = chain.add(share, now=now)
    assert result.status is AddStatus.INVALID and result.rejection is not Rejection.PAYOUTS_DIFFER
    assert chain.windows_computed == before
    # The same theft on an otherwise good share is found, and finding it costs a window.
    honest_info, _ = chain.prepare(script(3), now, VALUE)
    theft = grind(honest_info, payouts, TEST_PARAMS, value_override=stolen)
    before = chain.windows_computed
    assert reason(chain, theft, now) is Rejection.PAYOUTS_DIFFER
    assert chain.windows_computed > before


def test_orphan_is_checked_against_the_retarget_once_its_parent_arrives() -> None:
    source, shares = chain_of(3)
    info, payouts = source.prepare(script(3), T0 + 5, VALUE)
    wrong = dataclasses.replace(info, share_bits=target_to_bits(bits_to_target(info.share_bits) // 2))
    orphan = grind(wrong, payouts, TEST_PARAMS)
    chain = ShareChain(TEST_PARAMS)
    for share in shares[:2]:
        chain.add(share, now=T0 + 5)
    assert chain.add(orphan, now=T0 + 5).status is AddStatus.ORPHAN  # the retarget needs its parent
    result = chain.add(shares[2], now=T0 + 5)
    assert result.status is AddStatus.ADDED and [s.hash for s in result.accepted] == [shares[2].hash]
    (refusal,) = result.rejected
    assert refusal == Refusal(orphan.hash, Rejection.RETARGET_MISMATCH, refusal.detail) and refusal.detail
    assert orphan.hash not in chain
