"""A share's fate: main chain, uncle or orphan, settled once the tip is uncle_depth above it."""

from __future__ import annotations

from sharechain.chain import ShareChain
from sharechain.fate import Fate, fate, settled
from sharechain.share import Share
from tests.sharechain.miner import TEST_PARAMS, mine_on

T0 = 1_700_000_000


def add(chain: ShareChain, share: Share, now: int) -> Share:
    assert chain.add(share, now=now).accepted
    return share


def test_main_uncle_and_orphan_are_told_apart_once_settled() -> None:
    chain = ShareChain(TEST_PARAMS)
    shares = [add(chain, mine_on(chain, i % 3, T0 + 10 * i), T0 + 10 * i) for i in range(4)]
    # Two siblings of the tip: one gets included as an uncle, the other never does.
    uncle = add(chain, mine_on(chain, 7, T0 + 41, parent=shares[2].hash, uncles=()), T0 + 41)
    orphan = add(chain, mine_on(chain, 8, T0 + 42, parent=shares[2].hash, uncles=()), T0 + 42)
    assert fate(chain, shares[3].hash) is None  # the tip itself: not settled
    tip = add(chain, mine_on(chain, 1, T0 + 50, parent=shares[3].hash, uncles=(uncle.hash,)), T0 + 50)
    assert fate(chain, uncle.hash) is None  # still within reach of another includer
    for i in range(TEST_PARAMS.uncle_depth):
        tip = add(chain, mine_on(chain, 2, T0 + 60 + i, parent=tip.hash, uncles=()), T0 + 60 + i)
    assert settled(chain, shares[3].info.height) and not settled(chain, tip.info.height)
    assert fate(chain, shares[3].hash) is Fate.MAIN
    assert fate(chain, uncle.hash) is Fate.UNCLE
    assert fate(chain, orphan.hash) is Fate.ORPHAN
    assert fate(chain, b"\x00" * 32) is None


def test_uncle_candidates_put_the_most_work_first() -> None:
    chain = ShareChain(TEST_PARAMS)
    shares = [add(chain, mine_on(chain, i % 3, T0 + 10 * i), T0 + 10 * i) for i in range(6)]
    side = [add(chain, mine_on(chain, 10 + i, T0 + 61 + i, parent=shares[3 + i % 2].hash, uncles=()), T0 + 61 + i)
            for i in range(3)]
    parent = chain.get(shares[5].hash)
    assert parent is not None
    candidates = chain.uncle_candidates(parent)
    assert set(candidates) == {s.hash for s in side}
    works = [chain.get(h).work for h in candidates]  # type: ignore[union-attr]
    assert works == sorted(works, reverse=True)
