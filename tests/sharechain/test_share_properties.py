"""Property-based: the share deserializer and the validator end every input in a defined result."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharechain.bitcoin.serialize import ParseError, ser_varbytes, ser_varint
from sharechain.bitcoin.transaction import NULL_HASH
from sharechain.pplns import split_reward
from sharechain.share import Share, ShareInfo
from tests.fixtures.fuzz_share import (
    T0,
    base_chain,
    base_shares,
    build_share,
    check_add,
    check_parse,
    next_share,
    one_input,
)
from tests.sharechain.miner import COINBASE_VALUE, TEST_PARAMS, script

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
hashes = st.binary(min_size=32, max_size=32)
u32 = st.integers(0, 2**32 - 1)


FIELDS = ("prev", "height", "timestamp", "bits", "payout", "uncles")


@st.composite
def infos(draw: st.DrawFn) -> ShareInfo:
    """A valid next share's information on a known share, with up to two fields made arbitrary."""
    chain = base_chain()
    known = [s.hash for s in base_shares()]
    parent = chain.get(draw(st.sampled_from(known)))
    assert parent is not None
    fields: dict[str, Any] = {"prev": parent.hash, "height": parent.height + 1, "timestamp": T0 + 7,
                              "bits": chain.next_bits(parent), "payout": script(5),
                              "uncles": tuple(chain.uncle_candidates(parent))}
    arbitrary = {
        "prev": st.one_of(st.sampled_from(known), st.just(NULL_HASH), hashes),
        "height": st.one_of(st.integers(0, 8), u32), "timestamp": st.one_of(st.integers(T0 - 20, T0 + 200), u32),
        "bits": st.one_of(st.sampled_from([chain.next_bits(chain.get(h)) for h in known]), u32),
        "payout": st.binary(max_size=70),
        "uncles": st.lists(st.one_of(st.sampled_from(known), hashes), max_size=5).map(tuple),
    }
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=2, unique=True)):
        fields[name] = draw(arbitrary[name])
    return ShareInfo(fields["prev"], fields["height"], fields["timestamp"], fields["bits"], fields["payout"],
                     fields["uncles"])


@st.composite
def built(draw: st.DrawFn) -> Share:
    """A share for those fields: the honest PPLNS split, sometimes altered, and real proof of work."""
    info = draw(infos())
    chain = base_chain()
    try:
        payouts = split_reward(COINBASE_VALUE, chain.candidate_weights(info), info.payout_script, TEST_PARAMS)
    except (KeyError, ValueError, ArithmeticError):  # unknown uncle, bad bits: no honest split exists
        payouts = [(script(1), COINBASE_VALUE)]
    change = draw(st.sampled_from(["none"] * 6 + ["value", "drop", "add", "replace"]))
    if change == "value" and payouts:
        payouts[0] = (payouts[0][0], payouts[0][1] + draw(st.integers(-1000, 1000)))
    elif change == "drop" and payouts:
        payouts = payouts[1:]
    elif change == "add":
        payouts = [*payouts, (script(9), draw(st.integers(0, 2**40)))]
    elif change == "replace":
        payouts = draw(st.lists(st.tuples(st.binary(max_size=30), st.integers(0, 2**63)), max_size=4))
    return build_share(info, payouts, draw(st.binary(max_size=8)))


@FAST
@given(built(), st.integers(T0 - 100, T0 + 300))
def test_arbitrary_shares_get_a_defined_add_result(share: Share, now: int) -> None:
    parsed = check_parse(share.serialize())
    if parsed is not None:
        check_add(base_chain(), parsed, now)


@FAST
@given(st.data())
def test_mutated_valid_shares_parse_and_validate_defined(data: st.DataObject) -> None:
    raw = bytearray(next_share().serialize())
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    share = check_parse(bytes(raw))
    if share is not None:
        check_add(base_chain(), share, T0 + 10)


@FAST
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    one_input(data)


def test_the_valid_next_share_is_added() -> None:
    assert check_add(base_chain(), next_share(), T0 + 10).value == "added"


def test_a_coinbase_with_a_witness_is_refused_not_a_second_encoding() -> None:
    share = next_share()
    txin = dataclasses.replace(share.coinbase.inputs[0], witness=(b"\x00" * 32,))
    coinbase = dataclasses.replace(share.coinbase, inputs=(txin,))
    raw = (bytes((1,)) + share.header.serialize() + ser_varbytes(coinbase.serialize(with_witness=True))
           + ser_varint(len(share.merkle_branch)) + b"".join(share.merkle_branch) + share.info.serialize())
    with pytest.raises(ParseError, match="without witness"):
        Share.parse(raw)


@FAST
@given(built())
def test_a_shares_information_bytes_are_its_information_serialized(share: Share) -> None:
    assert share.info_bytes() == share.info.serialize()
    try:
        parsed = Share.parse(share.serialize())
    except ParseError:
        return
    assert parsed.info_bytes() == parsed.info.serialize() == share.info.serialize()
