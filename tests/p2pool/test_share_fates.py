"""Share fates: every accepted share is settled once, when the tip is uncle_depth above it, and counted."""

from __future__ import annotations

from p2pool.events import SharesAccepted, ShareSettled, ShareSource, SharesSettled, SourceKind, TipChanged
from p2pool.share_fates import ShareFates
from sharechain.chain import ShareChain
from sharechain.fate import Fate
from sharechain.share import Share
from tests.sharechain.miner import TEST_PARAMS, mine_on

T0 = 1_700_000_000


class Node:
    """The chain, the share fates and what they announced, fed as the intake feeds them."""

    def __init__(self) -> None:
        self.chain = ShareChain(TEST_PARAMS)
        self.settled: list[ShareSettled] = []
        self.events: list[SharesSettled] = []
        self.fates = ShareFates(self.chain, self._heard)

    def _heard(self, event: object) -> None:
        assert isinstance(event, SharesSettled) and event.settled  # one event per tip change, never empty
        self.events.append(event)
        self.settled += event.settled

    def add(self, share: Share, source: ShareSource) -> Share:
        assert self.chain.add(share, now=share.info.timestamp).accepted
        self.fates.on_shares_accepted(SharesAccepted((share,), source))
        assert self.chain.tip is not None
        self.fates.on_tip_changed(TipChanged(self.chain.tip, 0))
        return share


def test_each_share_settles_once_when_the_tip_is_uncle_depth_above_it() -> None:
    node = Node()
    local, synced = ShareSource(SourceKind.LOCAL, worker="w"), ShareSource(SourceKind.SYNC, peer="p")
    shares = [node.add(mine_on(node.chain, i % 3, T0 + 10 * i), local if i % 2 else synced) for i in range(4)]
    uncle = node.add(mine_on(node.chain, 7, T0 + 41, parent=shares[2].hash, uncles=()), synced)
    orphan = node.add(mine_on(node.chain, 8, T0 + 42, parent=shares[2].hash, uncles=()), local)
    tip = node.add(mine_on(node.chain, 1, T0 + 50, parent=shares[3].hash, uncles=(uncle.hash,)), synced)
    assert {e.share_hash for e in node.settled} == {s.hash for s in shares[:4 - TEST_PARAMS.uncle_depth + 1]}
    for i in range(TEST_PARAMS.uncle_depth + 1):
        tip = node.add(mine_on(node.chain, 2, T0 + 60 + i, parent=tip.hash, uncles=()), synced)
    fates = {e.share_hash: e.fate for e in node.settled}
    assert len(fates) == len(node.settled)  # none settled twice
    assert [fates[s.hash] for s in shares] == [Fate.MAIN] * 4
    assert fates[uncle.hash] is Fate.UNCLE and fates[orphan.hash] is Fate.ORPHAN
    assert tip.hash not in fates
    summary = node.fates.summary()
    assert summary["network"] == {"main": 6, "uncle": 1, "orphan": 1, "pending": TEST_PARAMS.uncle_depth}
    assert summary["local"] == {"main": 2, "uncle": 0, "orphan": 1, "pending": 0}
    assert node.fates.of_worker("w") == {"main": 2, "uncle": 0, "orphan": 1}


def test_a_tip_that_moves_down_settles_nothing_new() -> None:
    node = Node()
    source = ShareSource(SourceKind.GOSSIP, peer="p")
    shares = [node.add(mine_on(node.chain, i % 3, T0 + 10 * i), source) for i in range(TEST_PARAMS.uncle_depth + 2)]
    before = list(node.settled)
    low = node.chain.get(shares[1].hash)
    assert low is not None
    node.fates.on_tip_changed(TipChanged(low, 0))  # a tip lower than the last: nothing more is ripe
    assert node.settled == before
    assert node.fates.summary()["network"]["pending"] == TEST_PARAMS.uncle_depth


def test_every_share_ripe_at_one_tip_change_settles_in_one_event_lowest_first() -> None:
    node = Node()
    source = ShareSource(SourceKind.SYNC, peer="p")
    shares = []
    for i in range(TEST_PARAMS.uncle_depth + 4):  # accepted as a sync batch: no tip change heard until the end
        shares.append(mine_on(node.chain, i % 3, T0 + 10 * i))
        assert node.chain.add(shares[-1], now=shares[-1].info.timestamp).accepted
    node.fates.on_shares_accepted(SharesAccepted(tuple(shares), source))
    assert node.chain.tip is not None
    node.fates.on_tip_changed(TipChanged(node.chain.tip, 0))
    assert len(node.events) == 1
    assert [e.share_hash for e in node.events[0].settled] == [s.hash for s in shares[:4]]  # heights 0..tip-depth
    assert node.fates.summary()["network"] == {"main": 4, "uncle": 0, "orphan": 0, "pending": TEST_PARAMS.uncle_depth}
