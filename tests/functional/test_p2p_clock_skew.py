"""Two nodes whose clocks differ by an hour (each node's clock injected: the system clock is untouched).
The shares of the node whose clock is wrong, or those it is sent, fail the consensus time rule
(``timestamp-in-future``: nobody's fault, so no penalty and no ban); each node shows its skew in
``/api/status`` (``p2p.clock_skew``) and the one that sees it past the threshold warns. Once the clock
is right again they agree on the tip and the payouts."""

from __future__ import annotations

import logging
import re
import time

import pytest

from p2pool.events import ShareRefused
from p2pool.node import Node
from sharechain.rejection import Rejection
from tests.functional.federation import federation, mine_share, peer_id, submit, sync_sharechains, wait_for
from tests.functional.sharegen import make_chain, payout_script

HOUR = 3600.0
VALUE = 50_0000_0000


class Clock:
    """A wall clock ``offset`` seconds from the system's (changed by the test, never the system's)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


def refused_in_future(node: Node) -> set[bytes]:
    refused: set[bytes] = set()
    node.events.subscribe(ShareRefused, lambda e: refused.add(e.share_hash)
                          if e.rejection is Rejection.TIMESTAMP_IN_FUTURE else None)
    return refused


def skew(node: Node) -> float | None:
    return node.status()["p2p"]["clock_skew"]


async def measured_skew(wrong: Node, right: Node) -> float:
    """The skew ``wrong`` reads from ``right``'s gossiped shares. A reading goes with the peer's connection: on a
    loaded machine the two can lose theirs and reconnect (both ends' requests unanswered for 10 s, seen twice), and
    then only a share ``right`` finds after that, gossiped, tells again."""
    for n in range(40, 43):
        try:
            return await wait_for(lambda: skew(wrong), "the skewed node to measure its clock", 20)
        except AssertionError:
            await mine_share(right, n)
    return await wait_for(lambda: skew(wrong), "the skewed node to measure its clock")


async def agree_once_the_clock_is_right(clock: Clock, miner: Node, other: Node) -> None:
    clock.offset = 0.0
    for n in range(20, 23):  # new shares outweigh whatever fork the hour made
        await mine_share(miner, n)
    tip = await sync_sharechains([miner, other], all_shares=False)
    assert miner.chain is not None and other.chain is not None
    assert miner.chain.payouts(tip, VALUE) == other.chain.payouts(tip, VALUE)
    script = payout_script(30)
    now = int(time.time())
    assert miner.chain.prepare(script, now, VALUE) == other.chain.prepare(script, now, VALUE)


@pytest.mark.parametrize("offset", [HOUR, -HOUR], ids=["an-hour-ahead", "an-hour-behind"])
async def test_nodes_an_hour_apart_refuse_clearly_then_agree(tmp_path, caplog, offset):
    caplog.set_level(logging.INFO, logger="otedama.p2p")
    history = make_chain(20)
    async with federation(tmp_path) as fed:
        right = await fed.add_node(shares=history)
        clock = Clock(offset)
        wrong = await fed.add_node(right, shares=history, clock=clock)
        await sync_sharechains([right, wrong])
        refused_by_right, refused_by_wrong = refused_in_future(right), refused_in_future(wrong)

        if offset > 0:
            # Its shares are stamped an hour ahead: the right node refuses them, by the time rule.
            ahead = await mine_share(wrong, 1)
            await wait_for(lambda: ahead in refused_by_right, "the share from the future to be refused")
            assert ahead not in right.chain
            behind = await mine_share(right, 2)  # ... while it takes the right node's shares
            await wait_for(lambda: behind in wrong.chain, "the right node's share to reach the fast one")
        else:
            # The chain's recent shares are an hour ahead of its clock, so is every share it could make on
            # them (after their median time): its own miner is told why its share is refused ...
            own, answer = await submit(wrong, 1)
            assert answer is not None and answer.reason == "invalid-share" and own not in wrong.chain
            assert "timestamp too far in the future" in answer.message
            # ... and so are the right node's shares, an hour ahead of its clock.
            ahead = await mine_share(right, 2)
            await wait_for(lambda: ahead in refused_by_wrong, "the right node's share to be refused by the slow one")
            assert ahead not in wrong.chain

        # The wrong node knows how far off it is, and says so.
        measured = await measured_skew(wrong, right)
        assert abs(measured - offset) < 60, measured
        warned = [float(m.group(1)) for r in caplog.records if r.levelno == logging.WARNING
                  and (m := re.search(r"clock is ([+-]\d+) s from its peers'.*check NTP", r.getMessage()))]
        assert any(abs(value - offset) < 60 for value in warned), warned  # (with one peer, both ends warn)
        # Nobody is to blame for a clock: no penalty, no ban, still connected.
        assert peer_id(wrong) in right.p2p.peers.connected() and peer_id(right) in wrong.p2p.peers.connected()
        assert not right.p2p.ban_list() and not wrong.p2p.ban_list()

        await agree_once_the_clock_is_right(clock, right, wrong)
