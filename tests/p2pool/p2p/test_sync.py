"""Sync planning without I/O: the main-chain index, locators, serving ranges, the download plan."""

from __future__ import annotations

import itertools

from p2pool.p2p.sync import (
    DownloadPlan,
    MainChainIndex,
    PeerTip,
    best_peer,
    following,
    fork_height,
    locator,
    progress,
)
from sharechain.chain import ShareChain
from sharechain.result import AddStatus
from tests.sharechain.miner import TEST_PARAMS, mine_on

T0 = 1_700_000_000


def build(count: int) -> tuple[ShareChain, list]:
    chain = ShareChain(TEST_PARAMS)
    shares = []
    for i in range(count):
        share = mine_on(chain, i % 3, T0 + 2 * i)
        assert chain.add(share, now=T0 + 2 * i).status is AddStatus.ADDED
        shares.append(share)
    return chain, shares


def test_index_follows_extension_and_reorg():
    chain, shares = build(30)
    index = MainChainIndex()
    index.update(chain)
    assert [index.at(h) for h in range(30)] == [s.hash for s in shares]
    assert index.base == 0 and index.top == 29
    # A heavier side branch from height 25 replaces the last four shares.
    parent = shares[24].hash
    branch = []
    for i in range(6):
        share = mine_on(chain, 7, T0 + 100 + i, parent=parent, uncles=())
        assert chain.add(share, now=T0 + 200).status is AddStatus.ADDED
        branch.append(share)
        parent = share.hash
    assert chain.tip.hash == branch[-1].hash
    index.update(chain)
    assert index.top == 30
    assert index.heights(24, 31) == [shares[24].hash] + [s.hash for s in branch]
    assert index.on_main_chain(chain, branch[0].hash) and not index.on_main_chain(chain, shares[26].hash)


def test_locator_is_dense_then_exponential_and_ends_at_the_oldest():
    chain, _ = build(100)
    index = MainChainIndex()
    index.update(chain)
    hashes = locator(index)
    heights = [chain.get(h).height for h in hashes]
    assert heights[:10] == list(range(99, 89, -1))
    gaps = [a - b for a, b in itertools.pairwise(heights[9:-1])]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]
    assert heights[-1] == 0 and len(hashes) <= 64
    assert locator(MainChainIndex()) == ()


def test_following_starts_after_the_fork_point_and_honours_stop_and_limit():
    chain, shares = build(50)
    index = MainChainIndex()
    index.update(chain)
    unknown = b"\xee" * 32
    assert fork_height(index, chain, [unknown, shares[20].hash, shares[10].hash]) == 20
    assert following(index, chain, [unknown, shares[20].hash], b"\x00" * 32, 5) == [s.hash for s in shares[21:26]]
    assert following(index, chain, [shares[20].hash], shares[22].hash, 100) == [s.hash for s in shares[21:23]]
    # Nothing in common: from the oldest share.
    assert following(index, chain, [unknown], b"\x00" * 32, 3) == [s.hash for s in shares[:3]]
    assert following(index, chain, [shares[49].hash], b"\x00" * 32, 100) == []


def test_plan_spreads_batches_over_peers_and_releases_in_order():
    plan: DownloadPlan[bytes] = DownloadPlan(batch_size=2, per_peer=1, timeout=5)
    hashes = [bytes([i]) * 32 for i in range(5)]
    plan.add_inventory(hashes)
    requests = plan.assign(["a", "b"], now=0)
    assert [(r.peer, r.number, r.hashes) for r in requests] == [("a", 0, tuple(hashes[0:2])),
                                                                 ("b", 1, tuple(hashes[2:4]))]
    assert plan.assign(["a", "b"], now=0) == []  # both busy
    # Batch 1 arrives first: nothing is released until batch 0 is complete.
    assert plan.received("b", 1, {h: h for h in hashes[2:4]})
    assert plan.release() == []
    # Peer a answers only half of batch 0: it goes to b, the other peer.
    assert not plan.received("a", 0, {hashes[0]: hashes[0]})
    requests = plan.assign(["a", "b"], now=1)
    assert [(r.peer, r.number, r.hashes) for r in requests] == [("b", 0, (hashes[1],)), ("a", 2, (hashes[4],))]
    assert plan.received("b", 0, {hashes[1]: hashes[1]})
    assert plan.release() == hashes[:4]
    # Peer a never answers batch 2: it expires and goes to b.
    assert plan.expire(now=5.9) == []
    assert plan.expire(now=6) == [("a", 2)]
    assert [r.peer for r in plan.assign(["a", "b"], now=6)] == ["b"]
    assert plan.received("b", 2, {hashes[4]: hashes[4]})
    assert plan.release() == [hashes[4]] and plan.idle and plan.queued == 0


def test_plan_stalls_when_every_peer_failed_a_batch():
    plan: DownloadPlan[bytes] = DownloadPlan(batch_size=10)
    plan.add_inventory([b"\x01" * 32])
    (request,) = plan.assign(["a"], now=0)
    plan.failed("a", request.number)
    assert plan.assign(["a"], now=1) == [] and plan.stalled
    plan.clear()
    assert plan.idle and not plan.stalled


def test_best_peer_and_progress():
    tips = {"p1": PeerTip(b"\x01" * 32, 10, 100), "p2": PeerTip(b"\x02" * 32, 12, 150),
            "p3": PeerTip(b"\x03" * 32, 12, 150)}
    assert best_peer(tips, our_work=90) == "p2"
    assert best_peer(tips, our_work=90, known={b"\x02" * 32, b"\x03" * 32}) == "p1"
    assert best_peer(tips, our_work=150) is None
    behind = progress(5, tips, 90, syncing=True, behind_threshold=3)
    assert behind.target_height == 12 and behind.behind and 0 < behind.fraction < 1
    level = progress(11, tips, 150, syncing=False, behind_threshold=3)
    assert not level.behind and level.target_height == 11 and level.fraction == 1.0


def test_a_peer_well_ahead_in_height_is_fetched_whatever_work_it_announces():
    """Announced work rests on what a joined node took on trust for its oldest shares: a peer whose
    announcement is offset below ours but whose tip is higher is still fetched from (and counted)."""
    tips = {"low": PeerTip(b"\x01" * 32, 30, 10), "near": PeerTip(b"\x02" * 32, 21, 10)}
    assert best_peer(tips, our_work=1000, our_height=20) == "low"
    assert best_peer(tips, our_work=1000, our_height=20, known={b"\x01" * 32}) is None  # held: nothing to fetch
    assert progress(20, tips, 1000, syncing=False, behind_threshold=3).behind
    assert not progress(20, tips, 1000, syncing=False, behind_threshold=3, known={b"\x01" * 32}).behind


def test_recent_shares_keep_every_share_near_the_top():
    from p2pool.p2p.sync import RecentShares

    recent = RecentShares(keep=3)
    for height, tag in [(1, 1), (2, 2), (2, 3), (3, 4), (5, 5), (4, 6)]:
        recent.add(height, bytes([tag]) * 32)
    assert recent.hashes(10) == [bytes([t]) * 32 for t in (2, 3, 4, 6, 5)]  # heights 2..5
    assert recent.hashes(1) == [bytes([6]) * 32, bytes([5]) * 32]
    recent.add(1, b"\x09" * 32)  # too old to keep
    assert b"\x09" * 32 not in recent.hashes(10)
