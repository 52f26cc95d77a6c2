import dataclasses
import random

from sharechain.chain import ShareChain
from sharechain.pplns import split_reward
from sharechain.result import AddStatus
from tests.sharechain.miner import TEST_PARAMS, mine_on, script

T0 = 1_700_000_000


def test_split_sums_exactly_with_bonus_and_sorted_outputs():
    weights = {script(1): 3, script(2): 5, script(3): 7}
    for value in (0, 1, 999, 50_0000_0000, 12_3456_7891):
        payouts = split_reward(value, weights, script(2), TEST_PARAMS)
        assert sum(a for _, a in payouts) == value
        assert [s for s, _ in payouts] == sorted(s for s, _ in payouts)
    payouts = dict(split_reward(1_000_000, weights, script(2), TEST_PARAMS))
    bonus = 1_000_000 * TEST_PARAMS.finder_bonus_per_mille // 1000
    rest = 1_000_000 - bonus
    assert payouts[script(1)] == rest * 3 // 15
    assert payouts[script(3)] == rest * 7 // 15
    assert payouts[script(2)] == 1_000_000 - payouts[script(1)] - payouts[script(3)]


def test_dust_is_shared_among_the_others():
    weights = {script(1): 1, script(2): 1_000_000, script(3): 1_000_000}
    payouts = dict(split_reward(10_000_000, weights, script(2), TEST_PARAMS))
    assert script(1) not in payouts  # 1/2000001 of the value is under the dust limit
    assert sum(payouts.values()) == 10_000_000
    assert abs(payouts[script(2)] - payouts[script(3)]) <= 10_000_000 * TEST_PARAMS.finder_bonus_per_mille // 1000 + 2


def test_output_count_is_capped_keeping_the_finder():
    params = dataclasses.replace(TEST_PARAMS, max_payouts=3, dust_limit=1)
    weights = {script(i): 100 + i for i in range(10)}
    payouts = dict(split_reward(10**8, weights, script(0), params))
    assert set(payouts) == {script(0), script(9), script(8)}
    assert sum(payouts.values()) == 10**8


def naive_weights(chain: ShareChain, share_hash: bytes) -> dict[bytes, int]:
    """PPLNS weights recomputed from scratch from the records alone (independent of the window cache)."""
    weights: dict[bytes, int] = {}
    for n, record in enumerate(chain.ancestors(share_hash)):
        if n >= TEST_PARAMS.pplns_window:
            break
        own = record.work
        for uncle_hash in record.uncles:
            uncle = chain.get(uncle_hash)
            assert uncle is not None
            penalty = uncle.work * TEST_PARAMS.uncle_penalty_percent // 100
            weights[uncle.payout_script] = weights.get(uncle.payout_script, 0) + uncle.work - penalty
            own += penalty
        weights[record.payout_script] = weights.get(record.payout_script, 0) + own
    return weights


def test_incremental_window_matches_recomputation_across_forks():
    rng = random.Random(7)
    chain = ShareChain(TEST_PARAMS)
    hashes = []
    for i in range(40):
        parent = rng.choice(hashes[-4:]) if hashes and rng.random() < 0.3 else None
        share = mine_on(chain, rng.randrange(5), T0 + i, parent=parent)
        result = chain.add(share, now=T0 + i)
        assert result.status is AddStatus.ADDED, result.error
        hashes.append(share.hash)
    fresh = ShareChain(TEST_PARAMS)
    fresh.load(chain.records())  # cold cache: every window computed another way
    for share_hash in hashes:
        expected = naive_weights(chain, share_hash)
        assert chain.window_weights(share_hash) == expected
        assert fresh.window_weights(share_hash) == expected


def test_shares_older_than_the_window_earn_nothing():
    chain = ShareChain(TEST_PARAMS)
    first = mine_on(chain, 9, T0)
    chain.add(first, now=T0)
    for i in range(TEST_PARAMS.pplns_window):
        chain.add(mine_on(chain, 1, T0 + 1 + i), now=T0 + 1 + i)
    assert script(9) not in chain.window_weights(chain.tip.hash)
    assert script(9) not in dict(chain.payouts(chain.tip.hash, 50_0000_0000))


def reference_split(value: int, weights: dict[bytes, int], finder: bytes, params) -> list[tuple[bytes, int]]:
    """The split as first written, one Python pass per step (what the faster passes must equal)."""
    bonus = value * params.finder_bonus_per_mille // 1000
    rest = value - bonus
    eligible = {s: w for s, w in weights.items() if w > 0}
    eligible.setdefault(finder, 0)
    if len(eligible) > params.max_payouts:
        ranked = sorted(eligible, key=lambda s: (s != finder, -eligible[s], s))
        eligible = {s: eligible[s] for s in ranked[: params.max_payouts]}
    while True:
        total = sum(eligible.values())
        amounts = {s: rest * w // total for s, w in eligible.items()} if total else {finder: 0}
        dust = [s for s, amount in amounts.items() if amount < params.dust_limit and s != finder]
        if not dust:
            break
        for s in dust:
            del eligible[s]
    amounts[finder] = amounts.get(finder, 0) + bonus + rest - sum(amounts.values())
    return sorted((s, amount) for s, amount in amounts.items() if amount > 0)


def test_the_split_equals_the_reference_on_random_windows():
    rng = random.Random(12)
    capped = dataclasses.replace(TEST_PARAMS, max_payouts=4)
    fast_paths = slow_paths = 0
    for _ in range(3000):
        scripts = [rng.randbytes(rng.randint(0, 3)) for _ in range(rng.randint(0, 12))]
        weights = {s: rng.choice([0, 1, 3, rng.randint(1, 10**6), rng.randint(1, 10**30)]) for s in scripts}
        finder = rng.choice([*scripts, b"new", b""])
        value = rng.choice([0, 1, 545, 546, 10_000, 625_000_000, rng.randint(0, 10**12)])
        params = rng.choice([TEST_PARAMS, capped])
        got = split_reward(value, weights, finder, params)
        assert got == reference_split(value, weights, finder, params)
        if weights and min(weights.values()) > 0 and len(got) == len(set(weights) | {finder}):
            fast_paths += 1
        else:
            slow_paths += 1
    assert fast_paths > 100 and slow_paths > 100  # both the C-level passes and the filtering ones ran
