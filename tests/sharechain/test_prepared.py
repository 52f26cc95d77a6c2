"""``ShareChain.prepare_shared``: the next share prepared once for every miner gives, for each payout
script, exactly what ``prepare`` gives (random chains with uncles, past the window, capped and dusty)."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharechain.chain import ShareChain
from sharechain.pplns import SharedSplit, add_weights, split_reward
from sharechain.result import AddStatus
from tests.sharechain.miner import COINBASE_VALUE, TEST_PARAMS, mine_on, script

T0 = 1_700_000_000
PARAMS = [
    TEST_PARAMS,
    dataclasses.replace(TEST_PARAMS, name="capped", max_payouts=3),
    dataclasses.replace(TEST_PARAMS, name="dusty", dust_limit=COINBASE_VALUE // 12),
]


def _same_for_many_scripts(chain: ShareChain, rng: random.Random, now: int) -> None:
    value = rng.choice([COINBASE_VALUE, rng.randrange(1, COINBASE_VALUE), 0, 999])
    shared = chain.prepare_shared(now, value)
    for miner in [*range(8), *rng.sample(range(8, 256), 6)]:
        assert shared.for_script(script(miner)) == chain.prepare(script(miner), now, value)


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: p.name)
@pytest.mark.parametrize("seed", range(6))
def test_prepare_shared_equals_prepare_for_every_script(params, seed: int) -> None:
    rng = random.Random(seed)
    chain = ShareChain(params)
    now = T0
    _same_for_many_scripts(chain, rng, now)  # an empty chain
    for _ in range(rng.randrange(8, 22)):  # past the 10-share window
        now += rng.randrange(1, 20)
        tip = chain.tip
        share = mine_on(chain, rng.randrange(6), now)
        assert chain.add(share, now=now).status is AddStatus.ADDED
        if tip is not None and rng.random() < 0.3:  # a side share, an uncle of a later one
            side = mine_on(chain, rng.randrange(6), now, parent=tip.hash)
            chain.add(side, now=now)
        _same_for_many_scripts(chain, rng, now + rng.randrange(-30, 30))


@settings(max_examples=300, deadline=None)
@given(weights=st.dictionaries(st.binary(min_size=0, max_size=3), st.integers(1, 10**6), max_size=12),
       own=st.integers(0, 10**6), value=st.integers(0, 10**10), max_payouts=st.integers(1, 8),
       dust=st.integers(0, 10**9), finder=st.binary(min_size=0, max_size=3))
def test_a_shared_split_is_split_reward_for_any_finder(weights, own, value, max_payouts, dust, finder) -> None:
    params = dataclasses.replace(TEST_PARAMS, max_payouts=max_payouts, dust_limit=dust)
    shared = SharedSplit(value, weights, own, params)
    full = dict(weights)
    add_weights(full, ((finder, own),))
    assert shared.payouts(finder) == split_reward(value, full, finder, params)


@settings(max_examples=300, deadline=None)
@given(weights=st.dictionaries(st.binary(min_size=0, max_size=3), st.integers(1, 10**6), max_size=12),
       own=st.integers(0, 10**6), value=st.integers(0, 10**10), max_payouts=st.integers(1, 8),
       dust=st.integers(0, 10**9), finder=st.binary(min_size=0, max_size=3))
def test_a_newcomers_split_is_the_others_and_its_own_amount_in_order(weights, own, value, max_payouts, dust,
                                                                   finder) -> None:
    params = dataclasses.replace(TEST_PARAMS, max_payouts=max_payouts, dust_limit=dust)
    shared = SharedSplit(value, weights, own, params)
    newcomer = shared.newcomer(finder)
    if finder in weights:
        assert newcomer is None
        return
    assert newcomer is not None
    others, amount = newcomer
    assert sorted([*others, (finder, amount)] if amount else others) == shared.payouts(finder)
    assert finder not in {script for script, _ in others}
