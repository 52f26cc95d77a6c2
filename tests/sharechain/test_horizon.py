"""The keep rule: what a node keeps, that pruning forgets exactly the rest, and that it changes no
consensus result (a pruned and an unpruned chain fed the same long random chain with forks, uncles,
late and out-of-order shares agree on every result, every tip and every payout)."""

from __future__ import annotations

import dataclasses
import random

import pytest

import sharechain.horizon
from sharechain.chain import MissingClaim, ShareChain
from sharechain.horizon import Horizon, floor_of_kept, keep_depth, lowest_kept, raise_floor, reach
from sharechain.params import DEVNET, MAINNET
from sharechain.record import ShareRecord
from sharechain.result import AddResult, AddStatus
from sharechain.share import Share
from tests.sharechain.miner import TEST_PARAMS, mine_on

T0 = 1_700_000_000
# Shares two seconds apart (the share period): the retarget keeps the easiest target, so mining is cheap.
STEP = 2
VALUE = 50_0000_0000
# A window of 10, uncles 3 deep, retarget over 5, median of 11: the look-back is 13 heights.
PARAMS = dataclasses.replace(TEST_PARAMS, reorg_margin=8)


def test_reach_and_keep_depth() -> None:
    assert reach(MAINNET) == 8640 + 3 and keep_depth(MAINNET) == 8640 + 8643
    assert reach(DEVNET) == 723 and keep_depth(DEVNET) == 1443
    assert reach(PARAMS) == 13 and keep_depth(PARAMS) == 21
    # With a tiny window the retarget or the median span set the look-back.
    assert reach(dataclasses.replace(PARAMS, pplns_window=2, retarget_window=30)) == 31
    assert reach(dataclasses.replace(PARAMS, pplns_window=2, median_time_span=20)) == 20


def test_floor_follows_the_highest_tip_and_never_falls() -> None:
    assert raise_floor(-100, 20, PARAMS) == 12
    assert raise_floor(12, 15, PARAMS) == 12  # a lower tip (a heavier, shorter fork) leaves it
    assert lowest_kept(12, PARAMS) == 0 and lowest_kept(30, PARAMS) == 18
    assert Horizon.of(30, PARAMS) == Horizon(30, 18)
    assert Horizon(30, 18).too_deep(29) and not Horizon(30, 18).too_deep(30)
    # Rebuilt from kept shares, the floor leaves room for the look-back above the lowest one.
    assert floor_of_kept(0, 40, PARAMS) == 32
    assert floor_of_kept(18, 40, PARAMS) == 32 and floor_of_kept(25, 40, PARAMS) == 25 + 12


def linear(chain: ShareChain, n: int, start: int = 0) -> list[Share]:
    shares = []
    for i in range(start, start + n):
        share = mine_on(chain, i % 3, T0 + STEP * i)
        result = chain.add(share, now=T0 + STEP * i)
        assert result.status is AddStatus.ADDED, result.error
        shares.append(share)
    return shares


def test_pruning_forgets_everything_below_the_lowest_kept_height() -> None:
    chain = ShareChain(PARAMS)
    pruned: list[bytes] = []
    shares = []
    for i in range(60):
        share = mine_on(chain, i % 3, T0 + STEP * i)
        result = chain.add(share, now=T0 + STEP * i)
        pruned += result.pruned
        shares.append(share)
        if i % 7 == 3:  # a side share now and then, an uncle candidate for the next ones
            side = mine_on(chain, 4, T0 + STEP * i, parent=shares[-2].hash, uncles=())
            pruned += chain.add(side, now=T0 + STEP * i).pruned
    horizon = chain.horizon
    assert horizon.floor == 59 - 8 and horizon.lowest == 59 - 8 + 1 - 13 == 39
    assert {r.height for r in chain.records()} == set(range(39, 60))
    assert len(chain.main_line) == keep_depth(PARAMS) and chain.main_line.base == 39
    # What was pruned is reported once each, and nothing the chain holds was.
    assert len(pruned) == len(set(pruned))
    assert set(pruned).isdisjoint(r.hash for r in chain.records())
    assert {s.hash for s in shares[:39]} <= set(pruned)
    # No index keeps a pruned share alive.
    assert set(pruned).isdisjoint(chain._contributions) and set(pruned).isdisjoint(chain._children)
    assert set(pruned).isdisjoint(chain._window._states) and min(chain._by_height) == 39


def test_orphans_below_the_floor_are_dropped() -> None:
    source = ShareChain(PARAMS, prune=False)
    shares = linear(source, 30)
    chain = ShareChain(PARAMS)
    for share in shares[:20]:
        chain.add(share, now=T0 + 100)
    late = shares[21:23]  # their parent (height 20) is missing: orphans for now
    assert all(chain.add(s, now=T0 + 30).status is AddStatus.ORPHAN for s in late)
    assert len(chain.orphans) == 2
    # The tip rises past them by another branch: the floor passes height 22 and they can never connect.
    other = ShareChain(PARAMS, prune=False)
    for share in shares[:20]:
        other.add(share, now=T0 + 100)
    branch = linear(other, 14, start=100)
    for share in branch:
        chain.add(share, now=T0 + 1000)
    assert chain.horizon.floor >= 22 and len(chain.orphans) == 0
    # A share whose parent would be below the floor is refused at once, not kept as an orphan.
    result = chain.add(shares[25], now=T0 + 300)
    assert result.status is AddStatus.INVALID and result.rejection is not None
    assert result.rejection.name == "FORK_TOO_DEEP"


def test_payouts_are_refused_where_the_window_was_pruned() -> None:
    chain = ShareChain(PARAMS)
    shares = linear(chain, 40)
    assert chain.payouts(shares[-1].hash, VALUE)
    with pytest.raises(KeyError, match="reaches below the lowest share kept"):
        chain.payouts(shares[chain.horizon.floor - 1].hash, VALUE)


# --- a pruned chain and an unpruned one agree on everything -------------------------------------------------
def random_history(seed: int, steps: int) -> list[tuple[int, Share]]:
    """(delivery step, share): a random chain with forks, uncles, reorgs, late and out-of-order shares."""
    rng = random.Random(seed)
    maker = ShareChain(PARAMS, prune=False)
    deliveries: list[tuple[int, Share]] = []
    branch_tips: list[bytes] = []
    for step in range(steps):
        now = T0 + STEP * step
        tip = maker.tip
        roll = rng.random()
        if tip is not None and roll > 0.98:  # a side share nobody hears of in time: it arrives below the floor
            parent = maker.ancestor_at_height(tip.hash, max(0, tip.height - 1))
            assert parent is not None
            deliveries.append((step + 40, mine_on(maker, 7, now, parent=parent.hash, uncles=())))
            continue
        if tip is None or roll < 0.6:
            share = mine_on(maker, rng.randrange(6), now)
        elif roll < 0.8:  # a side share a little below the tip: an uncle for the next ones
            depth = rng.randrange(1, 4)
            parent = maker.ancestor_at_height(tip.hash, max(0, tip.height - depth))
            assert parent is not None
            share = mine_on(maker, rng.randrange(6), now, parent=parent.hash, uncles=())
            branch_tips.append(share.hash)
        else:  # extend a side branch: sometimes it grows heavier than the main chain (a reorg)
            alive = [h for h in branch_tips[-6:] if maker.get(h) is not None]
            if not alive:
                continue
            parent_hash = rng.choice(alive)
            parent = maker[parent_hash]
            share = mine_on(maker, rng.randrange(6), now, parent=parent_hash,
                            uncles=tuple(maker.uncle_candidates(parent)))
            branch_tips.append(share.hash)
        if maker.add(share, now=now).status is not AddStatus.ADDED:
            continue  # a branch that fell below the floor: no more shares on it
        # Most arrive at once, some a few steps late (out of order: orphans for a while).
        late = rng.random()
        deliveries.append((step + (0 if late < 0.85 else rng.randrange(1, 6)), share))
    deliveries.sort(key=lambda d: d[0])
    return deliveries


def comparable(result: AddResult) -> tuple:
    return (result.status, result.share_hash, result.rejection, result.missing,
            tuple(s.hash for s in result.accepted), tuple(r.share_hash for r in result.rejected),
            result.new_tip, result.reorg_depth)


def restarted(chain: ShareChain) -> ShareChain:
    """``chain`` as a node rebuilds it on restart: from its stored records and floor, caches cold."""
    fresh = ShareChain(PARAMS, prune=chain.prune)
    fresh.load([ShareRecord.parse(r.hash, r.serialize()) for r in chain.records()], chain.horizon.floor)
    return fresh


def run_both(deliveries: list[tuple[int, Share]]) -> tuple[ShareChain, ShareChain, int]:
    pruned, full = ShareChain(PARAMS), ShareChain(PARAMS, prune=False)
    most = 0
    for i, (step, share) in enumerate(deliveries):
        if i % 97 == 96:  # both restart now and then (orphans are forgotten by both)
            pruned, full = restarted(pruned), restarted(full)
        now = T0 + STEP * step + 5
        a, b = pruned.add(share, now=now), full.add(share, now=now)
        assert comparable(a) == comparable(b), (step, a, b)
        tip = pruned.tip
        assert tip is not None and full.tip is not None and tip.hash == full.tip.hash
        assert tip.chain_work == full.tip.chain_work
        assert pruned.payouts(tip.hash, VALUE) == full.payouts(tip.hash, VALUE)
        script = bytes.fromhex("0014") + bytes(20)
        assert pruned.prepare(script, now, VALUE) == full.prepare(script, now, VALUE)
        most = max(most, len(pruned))
    return pruned, full, most


def test_pruned_and_unpruned_chains_agree_on_a_long_random_chain() -> None:
    deliveries = random_history(seed=12, steps=700)
    pruned, full, most = run_both(deliveries)
    statuses = [full.add(s, now=T0 + 10_000).status for _, s in deliveries]
    assert AddStatus.DUPLICATE in statuses  # (everything that joined is still known to the full chain)
    assert full.tip is not None and full.tip.height > 10 * keep_depth(PARAMS)
    assert len(full) > 5 * len(pruned)
    # Every kind of event happened, so the comparison covered them.
    chain = ShareChain(PARAMS)
    seen = {"reorg": 0, "too_deep": 0, "orphan": 0, "uncle": 0}
    for step, share in deliveries:
        result = chain.add(share, now=T0 + STEP * step + 5)
        seen["reorg"] += result.reorg_depth > 0
        seen["too_deep"] += result.rejection is not None and result.rejection.name == "FORK_TOO_DEEP"
        seen["orphan"] += result.status is AddStatus.ORPHAN
        seen["uncle"] += bool(share.info.uncles) and result.status is AddStatus.ADDED
    assert all(seen.values()), seen
    # Memory stays flat: at most the kept heights, with their side shares.
    assert most <= 3 * keep_depth(PARAMS)


def build_deep_uncle_case(chain: ShareChain) -> tuple[ShareChain, Share]:
    """A chain where the oldest share a fork at the floor reads is an uncle ``uncle_depth`` below the
    share that includes it, at the very bottom of that fork's window; and the fork share itself."""
    params = chain.params
    x = 5
    main = linear(chain, x + 1)  # heights 0..x
    side = mine_on(chain, 4, T0 + STEP * x, parent=main[-2].hash, uncles=())  # a side share at x
    assert chain.add(side, now=T0 + STEP * x).status is AddStatus.ADDED
    for height in range(x + 1, x + params.uncle_depth + 1):  # x+1, x+2 leave it; x+3 includes it, 3 deep
        uncles = (side.hash,) if height == x + params.uncle_depth else ()
        share = mine_on(chain, height % 3, T0 + STEP * height, parent=main[-1].hash, uncles=uncles)
        assert chain.add(share, now=T0 + STEP * height).status is AddStatus.ADDED
        main.append(share)
    includer = x + params.uncle_depth
    floor = includer + params.pplns_window - 1  # the fork's parent window starts with the includer
    main += linear(chain, floor + params.reorg_margin - includer, start=includer + 1)
    assert chain.horizon.floor == floor
    fork = mine_on(chain, 5, T0 + STEP * (floor + 40), parent=chain.main_line.at(floor), uncles=())
    return restarted(chain), fork


def test_a_fork_at_the_floor_reads_down_to_the_lowest_kept_height() -> None:
    chain, fork = build_deep_uncle_case(ShareChain(PARAMS))
    assert chain.horizon.lowest == 5
    result = chain.add(fork, now=T0 + 1000)
    assert result.status is AddStatus.ADDED, result.error


def test_pruning_one_height_more_than_the_rule_keeps_breaks_it(monkeypatch) -> None:
    """The bound is tight: with a look-back one height short, the fork at the floor cannot be checked."""
    real = sharechain.horizon.reach
    monkeypatch.setattr(sharechain.horizon, "reach", lambda params: real(params) - 1)
    chain, fork = build_deep_uncle_case(ShareChain(PARAMS))
    assert chain.horizon.lowest == 6
    with pytest.raises(KeyError):
        chain.add(fork, now=T0 + 1000)


# --- joining from a recent share -------------------------------------------------------------------------------
def join_from(server: ShareChain, shares: dict[bytes, Share]) -> tuple[ShareChain, list[AddResult]]:
    """A new chain built as a joining node builds it from what ``server`` keeps: the context part (its
    lowest height up to its floor) checked alone, with the server's cumulative work for the shares
    whose parent or uncles are not sent, and everything above validated in full."""
    records = sorted(server.records(), key=lambda r: (r.height, r.hash))
    sent = {r.hash for r in records}
    joiner = ShareChain(PARAMS)
    joiner.begin_join(server.horizon.lowest)
    assert joiner.horizon == server.horizon
    results = []
    for record in records:
        share = shares[record.hash]
        if record.height <= joiner.horizon.floor:
            needs_claim = record.prev_hash not in sent or any(u not in sent for u in record.uncles)
            claim = (record.chain_work, record.main_work) if needs_claim else None
            results.append(joiner.add_context(share, claim))
        else:
            results.append(joiner.add(share, now=T0 + 100_000))
    return joiner, results


def test_a_chain_joined_from_a_recent_share_agrees_with_the_network() -> None:
    deliveries = random_history(seed=5, steps=500)
    shares = {s.hash: s for _, s in deliveries}
    pruned, full, _ = run_both(deliveries)
    joiner, results = join_from(pruned, shares)
    assert joiner.tip is not None and full.tip is not None
    assert joiner.tip.hash == full.tip.hash and joiner.tip.chain_work == full.tip.chain_work
    assert joiner.payouts(joiner.tip.hash, VALUE) == full.payouts(full.tip.hash, VALUE)
    script = bytes.fromhex("0014") + bytes(20)
    now = T0 + 100_000
    assert joiner.prepare(script, now, VALUE) == full.prepare(script, now, VALUE)
    # Everything above the floor was validated in full and joined, but side shares whose own fork
    # is below the floor (the server took them while it was lower); no share was refused as invalid.
    assert {r.status for r in results} <= {AddStatus.ADDED, AddStatus.INVALID}
    refused = [r for r in results if r.status is AddStatus.INVALID]
    assert all(r.rejection is not None and r.rejection.name == "FORK_TOO_DEEP" for r in refused)
    assert joiner.horizon == pruned.horizon
    # And from there it follows the network share for share.
    for i in range(30):
        share = mine_on(full, i % 4, now + STEP * i)
        a, b = joiner.add(share, now=now + STEP * i), full.add(share, now=now + STEP * i)
        assert (a.status, a.new_tip, a.reorg_depth) == (b.status, b.new_tip, b.reorg_depth)
    assert joiner.payouts(joiner.tip.hash, VALUE) == full.payouts(full.tip.hash, VALUE)


def test_a_context_share_without_its_parent_needs_a_claim() -> None:
    source = ShareChain(PARAMS, prune=False)
    shares = linear(source, 30)
    joiner = ShareChain(PARAMS)
    joiner.begin_join(10)
    with pytest.raises(MissingClaim):
        joiner.add_context(shares[10])
    record = source[shares[10].hash]
    assert joiner.add_context(shares[10], (record.chain_work, record.main_work)).status is AddStatus.ADDED
    # Its child's place follows from it, no claim needed; a share above the context part goes through add.
    assert joiner.add_context(shares[11]).status is AddStatus.ADDED
    assert joiner[shares[11].hash].chain_work == source[shares[11].hash].chain_work
    with pytest.raises(ValueError, match="not in the context part"):
        joiner.add_context(shares[10 + reach(PARAMS)])
    # A chain that holds shares cannot start a join.
    with pytest.raises(ValueError, match="empty"):
        joiner.begin_join(12)
