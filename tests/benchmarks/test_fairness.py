"""The fairness statistics: exposures add up to the whole reward, per-share weights agree with the
chain's own PPLNS window, and the stated spread is the spread a simulation of the null hypothesis
shows (seeded, so the check is deterministic)."""

from __future__ import annotations

import random
import statistics
from fractions import Fraction

from benchmarks.fairness import BlockWindow, effective_shares, exposures, fairness, share_weights
from sharechain.chain import ShareChain
from sharechain.params import DEVNET
from tests.functional.sharegen import make_chain


def _blocks(shares: int, every: int, window: int) -> list[BlockWindow]:
    """A block at every ``every``-th of ``shares`` equal shares (ids 0..), each paying a window of ``window``."""
    out = []
    for end in range(every - 1, shares, every):
        ids = [i.to_bytes(4, "big") for i in range(max(0, end - window + 1), end + 1)]
        out.append(BlockWindow(100 + end, ids[-1], dict.fromkeys(ids, 1000)))
    return out


def test_exposures_add_up_to_the_whole_reward_and_the_finder_gets_its_bonus():
    blocks = _blocks(200, 7, 30)
    exposure = exposures(blocks, 5)
    assert sum(exposure.values()) == 1
    alone = exposures([BlockWindow(1000, b"a", {b"a": 1, b"b": 1})], 5)
    assert alone == {b"a": Fraction(5, 1000) + Fraction(995, 2000), b"b": Fraction(995, 2000)}


def test_one_block_over_n_equal_shares_spreads_like_n_shares():
    ids = [bytes([i]) for i in range(50)]
    exposure = exposures([BlockWindow(10**8, ids[0], dict.fromkeys(ids, 7))], 0)
    assert abs(effective_shares(exposure) - 50) < 1e-9


def test_the_stated_spread_is_the_spread_of_the_null_hypothesis():
    blocks = _blocks(400, 5, 60)
    exposure = exposures(blocks, 5)
    shares = sorted(exposure)
    rng = random.Random(9)
    p = 0.2
    paid_shares = [float(sum(exposure[s] for s in shares if rng.random() < p)) for _ in range(3000)]
    [miner] = [m for m in fairness({"m": 1, "rest": 4}, {"m": 1, "rest": 4}, exposure) if m.name == "m"]
    assert miner.work_share == Fraction(1, 5) and miner.z == 0
    assert abs(statistics.fmean(paid_shares) - p) < 6 * miner.spread / 3000**0.5  # six standard errors
    assert 0.9 < statistics.stdev(paid_shares) / miner.spread < 1.1


def test_a_miner_paid_less_than_its_work_has_a_negative_z():
    exposure = exposures(_blocks(100, 5, 20), 5)
    large, small = fairness({"small": 1, "large": 3}, {"small": 10, "large": 90}, exposure)  # sorted by name
    assert (large.name, small.name) == ("large", "small")
    assert small.z < -3 < 3 < large.z


def test_share_weights_are_the_chains_window_by_share():
    chain = ShareChain(DEVNET)
    shares = make_chain(24, miners=3, uncle_every=5, chain=chain)
    tip = chain.tip
    assert tip is not None and any(chain.get(s.hash).uncles for s in shares)
    weights = share_weights(chain, tip.hash)
    by_script: dict[bytes, int] = {}
    for share_hash, weight in weights.items():
        record = chain.get(share_hash)
        assert record is not None
        by_script[record.payout_script] = by_script.get(record.payout_script, 0) + weight
    assert by_script == chain.window_weights(tip.hash)
