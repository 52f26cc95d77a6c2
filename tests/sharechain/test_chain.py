import dataclasses
import itertools
import random

from sharechain.bitcoin.header import BlockHeader
from sharechain.bitcoin.target import bits_to_target
from sharechain.chain import ShareChain
from sharechain.rejection import Rejection
from sharechain.result import AddStatus
from sharechain.share import Share
from tests.sharechain.miner import TEST_PARAMS, grind, mine_on, script

T0 = 1_700_000_000


def build(chain: ShareChain, n: int, miners=(1,), start=T0, step=1) -> list[Share]:
    shares = []
    for i in range(n):
        share = mine_on(chain, miners[i % len(miners)], start + i * step)
        result = chain.add(share, now=start + i * step)
        assert result.status is AddStatus.ADDED, result.error
        shares.append(share)
    return shares


def test_linear_chain_grows_and_tip_follows():
    chain = ShareChain(TEST_PARAMS)
    shares = build(chain, 12, miners=(1, 2, 3))
    assert chain.tip.hash == shares[-1].hash
    assert chain.tip.height == 11
    assert [r.hash for r in chain.main_chain(100)] == [s.hash for s in reversed(shares)]


def test_duplicate_is_reported_not_added_twice():
    chain = ShareChain(TEST_PARAMS)
    (share,) = build(chain, 1)
    assert chain.add(share, now=T0).status is AddStatus.DUPLICATE
    assert len(chain) == 1


def _tampered(share: Share, **header_changes) -> Share:
    header = dataclasses.replace(share.header, **header_changes)
    return Share.create(header, share.coinbase, share.merkle_branch, share.info)


def test_proof_of_work_is_checked():
    chain = ShareChain(TEST_PARAMS)
    share = mine_on(chain, 1, T0)
    target = bits_to_target(share.info.share_bits)
    for nonce in range(share.header.nonce + 1, share.header.nonce + 10_000):
        bad = _tampered(share, nonce=nonce)
        if int.from_bytes(bad.hash, "little") > target:
            break
    result = chain.add(bad, now=T0)
    assert result.status is AddStatus.INVALID
    assert result.rejection is Rejection.PROOF_OF_WORK and "proof of work" in result.error


def test_merkle_branch_must_reach_the_header():
    chain = ShareChain(TEST_PARAMS)
    info, payouts = chain.prepare(script(1), T0, 10**8)
    good = grind(info, payouts, TEST_PARAMS)
    bad = Share.create(good.header, good.coinbase, good.merkle_branch[:1], good.info)
    result = chain.add(bad, now=T0)
    assert result.status is AddStatus.INVALID and result.rejection is Rejection.MERKLE_BRANCH


def test_payouts_must_match_pplns_exactly():
    chain = ShareChain(TEST_PARAMS)
    build(chain, 3, miners=(1, 2))
    info, payouts = chain.prepare(script(3), T0 + 10, 10**8)
    stolen = [(script(3), sum(a for _, a in payouts))]
    share = grind(info, payouts, TEST_PARAMS, value_override=stolen)
    result = chain.add(share, now=T0 + 10)
    assert result.status is AddStatus.INVALID
    assert result.rejection is Rejection.PAYOUTS_DIFFER
    # Off by one satoshi between two outputs is caught too.
    shifted = [(s, a + (1 if i == 0 else -1 if i == 1 else 0)) for i, (s, a) in enumerate(payouts)]
    share = grind(info, payouts, TEST_PARAMS, value_override=shifted)
    assert chain.add(share, now=T0 + 10).rejection is Rejection.PAYOUTS_DIFFER


def test_share_target_must_follow_retarget_rule():
    chain = ShareChain(TEST_PARAMS)
    build(chain, 2)
    info, payouts = chain.prepare(script(1), T0 + 5, 10**8)
    easier = dataclasses.replace(info, share_bits=0x207FFFFF)
    share = grind(easier, payouts, TEST_PARAMS)
    result = chain.add(share, now=T0 + 5)
    assert result.status is AddStatus.INVALID and result.rejection is Rejection.TARGET_TOO_EASY


def test_timestamps_median_and_future():
    chain = ShareChain(TEST_PARAMS)
    build(chain, 5, step=10)
    info, payouts = chain.prepare(script(1), T0 + 100, 10**8)
    old = dataclasses.replace(info, timestamp=T0 + 1)
    assert chain.add(grind(old, payouts, TEST_PARAMS), now=T0 + 100).rejection is Rejection.TIMESTAMP_NOT_AFTER_MEDIAN
    future = dataclasses.replace(info, timestamp=T0 + 100 + TEST_PARAMS.max_future_seconds + 1)
    assert chain.add(grind(future, payouts, TEST_PARAMS), now=T0 + 100).rejection is Rejection.TIMESTAMP_IN_FUTURE


def test_wrong_height_and_foreign_network_rejected():
    chain = ShareChain(TEST_PARAMS)
    build(chain, 2)
    info, payouts = chain.prepare(script(1), T0 + 5, 10**8)
    wrong = dataclasses.replace(info, height=info.height + 1)
    assert chain.add(grind(wrong, payouts, TEST_PARAMS), now=T0 + 5).rejection is Rejection.PARENT_HEIGHT
    other = dataclasses.replace(TEST_PARAMS, name="other")
    share = grind(info, payouts, other)
    result = chain.add(share, now=T0 + 5)
    assert result.status is AddStatus.INVALID and result.rejection is Rejection.COMMITMENT_MISSING


def test_orphans_wait_for_their_parent():
    source = ShareChain(TEST_PARAMS)
    shares = build(source, 4)
    chain = ShareChain(TEST_PARAMS)
    assert chain.add(shares[0], now=T0).status is AddStatus.ADDED
    result = chain.add(shares[2], now=T0 + 10)
    assert result.status is AddStatus.ORPHAN and result.missing == (shares[1].hash,)
    assert chain.add(shares[3], now=T0 + 10).status is AddStatus.ORPHAN
    result = chain.add(shares[1], now=T0 + 10)
    assert result.status is AddStatus.ADDED
    assert [s.hash for s in result.accepted] == [s.hash for s in shares[1:]]
    assert result.new_tip == shares[3].hash


def test_heaviest_fork_wins_and_reorg_depth_is_reported():
    chain = ShareChain(TEST_PARAMS)
    base = build(chain, 3)
    a_branch = build(chain, 2, start=T0 + 10)
    assert chain.tip.hash == a_branch[-1].hash
    parent, results = base[-1].hash, []
    for i in range(4):
        share = mine_on(chain, 2, T0 + 20 + i, parent=parent, uncles=())
        results.append((share, chain.add(share, now=T0 + 20 + i)))
        parent = share.hash
    switch = next(r for s, r in results if r.new_tip is not None)
    assert switch.reorg_depth == 2  # both a-branch shares left the main chain
    assert chain.tip.hash == results[-1][0].hash
    assert chain.tip.chain_work > chain.get(a_branch[-1].hash).chain_work
    assert results[0][1].new_tip is None  # a lighter side share does not move the tip


def test_uncle_is_paid_with_penalty_to_includer():
    chain = ShareChain(TEST_PARAMS)
    base = build(chain, 3, miners=(1,))
    main = mine_on(chain, 1, T0 + 10)
    side = mine_on(chain, 2, T0 + 10, parent=base[-1].hash)
    chain.add(main, now=T0 + 10)
    chain.add(side, now=T0 + 10)
    tip_before = chain.tip.hash
    nephew = mine_on(chain, 3, T0 + 11, parent=tip_before)
    assert nephew.info.uncles, "the sibling should be offered as an uncle"
    result = chain.add(nephew, now=T0 + 11)
    assert result.status is AddStatus.ADDED, result.error
    uncle_hash = nephew.info.uncles[0]
    uncle = chain.get(uncle_hash)
    weights = chain.window_weights(nephew.hash)
    penalty = uncle.work * TEST_PARAMS.uncle_penalty_percent // 100
    assert weights[uncle.payout_script] >= uncle.work - penalty
    record = chain.get(nephew.hash)
    assert record.chain_work == chain.get(tip_before).chain_work + record.work + uncle.work
    # Including the same uncle again is refused.
    again = mine_on(chain, 3, T0 + 12, parent=nephew.hash, uncles=(uncle_hash,))
    assert chain.add(again, now=T0 + 12).rejection is Rejection.UNCLE_ALREADY_INCLUDED


def test_uncle_on_own_chain_or_too_deep_refused():
    chain = ShareChain(TEST_PARAMS)
    shares = build(chain, 8)
    own = mine_on(chain, 1, T0 + 20, uncles=(shares[-2].hash,))
    assert chain.add(own, now=T0 + 20).rejection is Rejection.UNCLE_ON_OWN_CHAIN
    deep_side = mine_on(chain, 2, T0 + 20, parent=shares[1].hash)
    chain.add(deep_side, now=T0 + 20)
    deep = mine_on(chain, 1, T0 + 21, uncles=(deep_side.hash,))
    assert chain.add(deep, now=T0 + 21).rejection is Rejection.UNCLE_DEPTH


def test_retarget_makes_fast_shares_harder_within_step_clamp():
    chain = ShareChain(TEST_PARAMS)
    build(chain, 12, step=0)  # all shares in the same second: far faster than the share period
    targets = [r.target for r in reversed(chain.main_chain(100))]
    assert targets[-1] < targets[0]
    for before, after in itertools.pairwise(targets):
        assert after * TEST_PARAMS.retarget_harder_max >= before - TEST_PARAMS.retarget_harder_max
        assert after <= TEST_PARAMS.max_share_target


def test_any_arrival_order_gives_the_same_tip():
    source = ShareChain(TEST_PARAMS)
    shares = build(source, 10, miners=(1, 2))
    side = mine_on(source, 3, T0 + 30, parent=shares[6].hash)
    source.add(side, now=T0 + 30)
    everything = shares + [side]
    for seed in range(3):
        order = everything[:]
        random.Random(seed).shuffle(order)
        replay = ShareChain(TEST_PARAMS)
        for share in order:
            replay.add(share, now=T0 + 100)
        assert replay.tip.hash == source.tip.hash
        assert len(replay) == len(source)


def test_header_roundtrip_of_mined_share():
    chain = ShareChain(TEST_PARAMS)
    share = mine_on(chain, 1, T0)
    parsed = Share.parse(share.serialize())
    assert parsed == share and parsed.hash == share.hash
    assert BlockHeader.parse(share.header.serialize()) == share.header


def test_the_median_time_is_that_of_the_parent_and_its_ancestors_on_the_main_chain_and_off_it():
    chain = ShareChain(TEST_PARAMS)
    rng = random.Random(5)
    base = build(chain, 14, start=T0)
    side, parent = [], base[5].hash
    for i in range(3):  # a side branch, off the main line
        share = mine_on(chain, 2, T0 + 40 + i, parent=parent, uncles=())
        assert chain.add(share, now=T0 + 40 + i).status is AddStatus.ADDED
        side.append(share)
        parent = share.hash
    build(chain, 4, start=T0 + 30 + rng.randint(0, 5), step=3)
    span = TEST_PARAMS.median_time_span
    for record in chain.records():
        times = sorted(r.timestamp for r in itertools.islice(chain.ancestors(record.hash), span))
        assert chain.median_time(record) == times[(len(times) - 1) // 2]
    assert not chain.main_line.holds(chain[side[-1].hash]) and chain.main_line.holds(chain.tip)
