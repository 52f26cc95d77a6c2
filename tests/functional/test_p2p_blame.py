"""Whose fault a refused share is decides what it costs, the same on every path a share can come by:
gossip, sync, and the fetch of a gossiped share's missing parent. A share whose only fault is a
timestamp ahead of our clock costs its sender nothing (our clock may be the one that lags); any
other invalid share costs exactly one INVALID_SHARE penalty. Real libp2p hosts on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from kernels.factory import make_scanner
from p2pool.events import PeerPenalized, ShareRefused
from p2pool.p2p.messages import Tip
from p2pool.p2p.scoring import Offense
from sharechain.bitcoin.script import witness_program
from sharechain.bitcoin.target import target_to_bits
from sharechain.chain import ShareChain
from sharechain.params import DEVNET
from sharechain.rejection import Rejection
from sharechain.share import Share, ShareInfo
from tests.functional.badpeer import BadPeer, ConnectionGone
from tests.functional.federation import federation, p2p_addr, peer_id, wait_for
from tests.functional.sharegen import grind, make_chain

VALUE = 50_0000_0000
MINER = witness_program(0, b"\x42" * 20)
THIEF = witness_program(0, b"\x66" * 20)
SCANNER = make_scanner("numba", threads=1)


class Shares:
    """The bad shares, each built on the honest history: one per fault, and a child of each for the
    parent-fetch path (an orphan needs only standalone checks, so the child of a bad parent is easy)."""

    def __init__(self, history: list[Share]) -> None:
        chain = ShareChain(DEVNET)
        for share in history:
            assert chain.add(share, now=1 << 40).accepted
        now = int(time.time())
        info, payouts = chain.prepare(MINER, now + 3600, VALUE)
        self.future = grind(info, payouts, DEVNET, SCANNER, tag=b"fut")
        info, _ = chain.prepare(THIEF, now, VALUE)
        self.forged = grind(info, [(THIEF, VALUE)], DEVNET, SCANNER, tag=b"thief")
        self.future_child = self._child(self.future)
        self.forged_child = self._child(self.forged)

    @staticmethod
    def _child(parent: Share) -> Share:
        info = ShareInfo(parent.hash, parent.info.height + 1, parent.info.timestamp + 1,
                         target_to_bits(DEVNET.max_share_target), MINER)
        return grind(info, [(MINER, VALUE)], DEVNET, SCANNER, tag=b"child")


@pytest.fixture(scope="module")
def history() -> list[Share]:
    return make_chain(10)


async def probe(fed, node, deliver, faulty: Share, charged_for: bool = False) -> list[str]:
    """A fresh bad peer delivers ``faulty`` (by ``deliver``); the offenses ``node`` charged it with.
    ``charged_for``: the share breaks a rule, so the wait is for this peer's charge (a reply still on its way
    from an earlier probe's peer, banned meanwhile, can bring the same share and its refusal first)."""
    bad = BadPeer(DEVNET)
    await fed.nursery.start(bad.run)
    charged: list[str] = []
    refused: list[bytes] = []
    node.events.subscribe(PeerPenalized, lambda e: charged.append(e.offense) if e.peer == bad.peer_id else None)
    node.events.subscribe(ShareRefused, lambda e: refused.append(e.share_hash))
    assert await bad.connect(p2p_addr(node))
    await deliver(bad)
    # The node decides the penalty in the same step as the refusal (no await in between), so once the
    # refusal is seen, so is any penalty.
    await wait_for(lambda: faulty.hash in refused and (charged or not charged_for), "the faulty share to be refused")
    return charged


async def test_a_clock_disagreement_costs_nothing_and_a_broken_rule_costs_the_same_on_every_path(tmp_path, history):
    bad_shares = Shares(history)
    tip = history[-1]
    claim = Tip(bad_shares.forged.hash, tip.info.height + 1, 1 << 200)  # far more work than ours
    async with federation(tmp_path) as fed:
        node = await fed.add_node(shares=history)

        def gossip(share: Share):
            async def deliver(bad: BadPeer) -> None:
                try:
                    await bad.wait_mesh(peer_id(node))
                except ConnectionGone:
                    pytest.fail("the node hung up on a peer that had done nothing yet")
                await bad.publish(share.serialize())
            return deliver

        def sync(share: Share):
            async def deliver(bad: BadPeer) -> None:
                bad.offer(claim, [share])  # polled when it connects, then asked for the inventory
            return deliver

        def parent_fetch(parent: Share, child: Share):
            async def deliver(bad: BadPeer) -> None:
                bad.offer(Tip(tip.hash, tip.info.height, 0), [parent])  # serves the parent by hash only
                await gossip(child)(bad)
            return deliver

        paths = {
            "gossip": (gossip(bad_shares.future), gossip(bad_shares.forged)),
            "sync": (sync(bad_shares.future), sync(bad_shares.forged)),
            "parent fetch": (parent_fetch(bad_shares.future, bad_shares.future_child),
                             parent_fetch(bad_shares.forged, bad_shares.forged_child)),
        }
        for path, (clock_fault, broken_rule) in paths.items():
            assert await probe(fed, node, clock_fault, bad_shares.future) == [], path
            assert await probe(fed, node, broken_rule, bad_shares.forged, charged_for=True) == [
                Offense.INVALID_SHARE.value], path
        assert bad_shares.future.hash not in node.chain and bad_shares.forged.hash not in node.chain


def test_the_bad_shares_break_the_rules_they_are_meant_to(history):
    bad_shares = Shares(history)
    chain = ShareChain(DEVNET)
    for share in history:
        chain.add(share, now=int(time.time()))
    now = int(time.time())
    assert chain.add(bad_shares.future, now=now).rejection is Rejection.TIMESTAMP_IN_FUTURE
    assert Rejection.TIMESTAMP_IN_FUTURE.blame.name == "NOBODY"
    forged = chain.add(bad_shares.forged, now=now).rejection
    assert forged is not None and forged.blame.name == "SENDER"
