"""Shares checked alone in another process (a join's checking process): the chain reaches the same
verdict, for the same reason, from the bytes' verdict as from its own checks."""

from __future__ import annotations

import dataclasses

import pytest

from sharechain.bitcoin.serialize import ParseError
from sharechain.bitcoin.target import bits_to_target, target_to_bits
from sharechain.chain import ShareChain
from sharechain.pplns import split_reward
from sharechain.rejection import Rejection
from sharechain.result import AddStatus
from sharechain.share import Share
from sharechain.validation import (
    CoinbasePayouts,
    StandaloneVerdict,
    WirePayouts,
    check_bytes,
    check_payouts,
    check_standalone,
    payouts_wire,
)
from tests.sharechain.miner import TEST_PARAMS, grind, mine_on, script
from tests.sharechain.test_validation import T0, VALUE, chain_of, without_pow


def test_a_lazily_decoded_share_is_the_share_and_decodes_its_body_when_read() -> None:
    _, shares = chain_of(5)
    for share in shares:
        lazy = Share.parse_lazily(share.raw)
        assert lazy._coinbase is None and lazy._merkle_branch is None
        assert (lazy.hash, lazy.info, lazy.header, lazy.raw) == (share.hash, share.info, share.header, share.raw)
        assert lazy.coinbase == share.coinbase and lazy.merkle_branch == share.merkle_branch
        assert lazy == share and hash(lazy) == hash(share) and lazy.serialize() == share.raw
    with pytest.raises(AttributeError):
        shares[0].info = shares[1].info


def test_lazy_decoding_still_refuses_bytes_that_do_not_frame_a_share() -> None:
    _, shares = chain_of(2)
    raw = shares[-1].raw
    for broken in (raw[:-1], raw + b"\x00", raw[:100], b"\x02" + raw[1:]):
        with pytest.raises(ParseError):
            Share.parse_lazily(broken)
        assert isinstance(check_bytes(broken, TEST_PARAMS), str)  # the checking process says why


def _cases() -> dict[str, tuple[list[Share], Share, int]]:
    """Shares each refused for one reason (and one valid), with the chain they are offered to."""
    cases = {}
    chain, before = chain_of(3)
    cases["valid"] = (before, mine_on(chain, 3, T0 + 5), T0 + 5)
    chain, before = chain_of(2)
    info, payouts = chain.prepare(script(3), T0 + 5, VALUE)
    harder = dataclasses.replace(info, share_bits=target_to_bits(bits_to_target(info.share_bits) // 2))
    retarget = without_pow(grind(harder, payouts, TEST_PARAMS))
    cases["retarget before proof of work"] = (before, retarget, T0 + 5)
    negative = dataclasses.replace(info, share_bits=0x1D800001)
    cases["target encoding"] = (before, Share.create(retarget.header, retarget.coinbase, retarget.merkle_branch,
                                                     negative), T0 + 5)
    chain, before = chain_of(3)
    cases["proof of work"] = (before, without_pow(mine_on(chain, 3, T0 + 5)), T0 + 5)
    chain, before = chain_of(8)
    own_uncle = mine_on(chain, 1, T0 + 20, uncles=(before[-2].hash,))
    cases["merkle branch"] = (before, Share.create(own_uncle.header, own_uncle.coinbase, own_uncle.merkle_branch[:1],
                                                   own_uncle.info), T0 + 20)
    cases["uncle on its own chain"] = (before, own_uncle, T0 + 20)
    info, payouts = chain.prepare(script(3), T0 + 20, VALUE)
    cases["payouts"] = (before, grind(info, payouts, TEST_PARAMS,
                                      value_override=[(script(3), sum(a for _, a in payouts))]), T0 + 20)
    cases["commitment"] = (before, grind(info, payouts, dataclasses.replace(TEST_PARAMS, name="other")), T0 + 20)
    return cases


CASES = _cases()
EXPECTED = {
    "retarget before proof of work": Rejection.RETARGET_MISMATCH,
    "target encoding": Rejection.BAD_TARGET_ENCODING,
    "proof of work": Rejection.PROOF_OF_WORK,
    "merkle branch": Rejection.MERKLE_BRANCH,
    "uncle on its own chain": Rejection.UNCLE_ON_OWN_CHAIN,
    "payouts": Rejection.PAYOUTS_DIFFER,
    "commitment": Rejection.COMMITMENT_MISSING,
}


def _chain(shares: list[Share]) -> ShareChain:
    chain = ShareChain(TEST_PARAMS)
    for i, share in enumerate(shares):
        assert chain.add(share, now=T0 + i).status is AddStatus.ADDED
    return chain


@pytest.mark.parametrize("case", list(CASES))
def test_a_verdict_from_elsewhere_gives_the_chains_own_outcome(case: str) -> None:
    before, share, now = CASES[case]
    own = _chain(before).add(share, now=now)
    verdict = check_bytes(share.raw, TEST_PARAMS)
    assert isinstance(verdict, StandaloneVerdict)
    twin = _chain(before)
    checked = twin.add(Share.parse_lazily(share.raw), now, verdict)
    assert (checked.status, checked.rejection) == (own.status, own.rejection)
    if case == "valid":
        assert own.status is AddStatus.ADDED and twin.tip is not None and twin.tip.hash == share.hash
    else:
        assert own.status is AddStatus.INVALID and own.rejection is EXPECTED[case]


def test_context_shares_take_the_verdict_too() -> None:
    _, shares = chain_of(4)
    chain = ShareChain(TEST_PARAMS)
    chain.begin_join(2)
    bad = without_pow(shares[2])
    verdict = check_bytes(bad.raw, TEST_PARAMS)
    assert isinstance(verdict, StandaloneVerdict) and verdict.rejection is Rejection.PROOF_OF_WORK
    assert chain.add_context(Share.parse_lazily(bad.raw), (1, 1), verdict).rejection is Rejection.PROOF_OF_WORK


def test_payouts_compared_as_bytes_agree_with_payouts_compared_as_outputs() -> None:
    chain, _ = chain_of(6)
    info, payouts = chain.prepare(script(4), T0 + 10, VALUE)
    weights = chain.candidate_weights(info)
    share = grind(info, payouts, TEST_PARAMS)
    paid = check_standalone(share, TEST_PARAMS, None)
    wire = WirePayouts(payouts_wire(paid.payouts), paid.value)
    assert wire.wire == b"".join(o.serialize() for o in share.coinbase.outputs[: len(paid.payouts)])
    check_payouts(info, paid, weights, TEST_PARAMS)
    check_payouts(info, wire, weights, TEST_PARAMS)  # neither raises
    expected = split_reward(VALUE, weights, script(4), TEST_PARAMS)
    shifted = [(s, v + (1 if i == 0 else -1 if i == 1 else 0)) for i, (s, v) in enumerate(expected)]
    for wrong in (CoinbasePayouts(shifted, VALUE), WirePayouts(payouts_wire(shifted), VALUE),
                  WirePayouts(payouts_wire(expected)[:-1], VALUE), WirePayouts(b"", 2**70)):
        with pytest.raises(Exception) as raised:
            check_payouts(info, wrong, weights, TEST_PARAMS)
        assert getattr(raised.value, "rejection", None) is Rejection.PAYOUTS_DIFFER
