"""Join plans without I/O: what a node serves, how a joining node checks them headers first (and
refuses a bad one, naming the offense), and which one it follows (proof of work, never claims)."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from kernels.factory import verify_headers
from p2pool.p2p.join import PlanRefused, build_plan, check_plan, pick_plan
from p2pool.p2p.messages import FrameDecoder, JoinPlan, WorkClaim, encode
from p2pool.p2p.scoring import Offense
from sharechain.bitcoin.hashing import sha256d
from sharechain.chain import ShareChain
from sharechain.horizon import keep_depth, reach
from sharechain.result import AddStatus
from tests.sharechain.miner import TEST_PARAMS, mine_on

T0 = 1_700_000_000
PARAMS = dataclasses.replace(TEST_PARAMS, reorg_margin=8)


def verify(headers: bytes, targets) -> list[bool]:
    return verify_headers(headers, targets, kind="hashlib")


def grown(chain: ShareChain, n: int, start: int = 0, miner: int = 0) -> ShareChain:
    for i in range(start, start + n):
        share = mine_on(chain, miner + i % 3, T0 + 2 * i)
        assert chain.add(share, now=T0 + 2 * i).status is AddStatus.ADDED
        if i % 5 == 4:  # a stale share, taken as an uncle by the next one
            side = mine_on(chain, 5, T0 + 2 * i, parent=chain[share.hash].prev_hash, uncles=())
            chain.add(side, now=T0 + 2 * i)
    return chain


@pytest.fixture(scope="module")
def served() -> ShareChain:
    return grown(ShareChain(PARAMS), 80)


def test_a_plan_lists_every_kept_share_headers_first(served: ShareChain) -> None:
    plan = build_plan(served)
    records = sorted(served.records(), key=lambda r: (r.height, r.hash))
    assert [sha256d(e.header) for e in plan.entries] == [r.hash for r in records]
    assert sum(e.main for e in plan.entries) == keep_depth(PARAMS) == len(served.main_line)
    kept = {r.hash for r in records}
    roots = {r.hash for r in records if r.prev_hash not in kept or any(u not in kept for u in r.uncles)}
    assert {c.hash for c in plan.claims} == roots and roots
    # It travels whole.
    decoder = FrameDecoder()
    decoder.receive_data(encode(plan))
    assert decoder.next_message() == plan


def test_a_checked_plan_knows_its_chain(served: ShareChain) -> None:
    checked = check_plan("p", build_plan(served), PARAMS, verify)
    assert served.tip is not None
    assert checked.tip == served.tip.hash and checked.tip_height == served.tip.height
    assert checked.lowest == served.horizon.lowest and checked.context_top(PARAMS) == served.horizon.floor
    assert checked.window_work == sum(served[h].work for h in checked.main[-PARAMS.pplns_window :])


def entries_without(plan: JoinPlan, index: int) -> JoinPlan:
    return JoinPlan(plan.entries[:index] + plan.entries[index + 1 :], plan.claims)


def refused(plan: JoinPlan, offense: Offense, words: str) -> None:
    with pytest.raises(PlanRefused, match=words) as info:
        check_plan("p", plan, PARAMS, verify)
    assert info.value.offense is offense


def test_bad_plans_are_refused_with_the_offense(served: ShareChain) -> None:
    plan = build_plan(served)
    refused(JoinPlan((), ()), Offense.PROTOCOL_VIOLATION, "empty")
    # A header that misses its target: found by the one proof-of-work batch, before anything is fetched.
    first = plan.entries[5]
    target_missed = next(n for n in range(1 << 20) if int.from_bytes(sha256d(first.header[:76] + struct.pack(
        "<I", n)), "little") > (1 << 256) // 17)
    forged = dataclasses.replace(first, header=first.header[:76] + struct.pack("<I", target_missed))
    refused(JoinPlan(plan.entries[:5] + (forged,) + plan.entries[6:], plan.claims), Offense.INVALID_SHARE,
            "without its proof of work")
    refused(JoinPlan(plan.entries[:5] + (dataclasses.replace(first, share_bits=0x207FFFFF),) + plan.entries[6:],
                     plan.claims), Offense.INVALID_SHARE, "bad share target|easier than")
    main_index = next(i for i, e in enumerate(plan.entries) if e.main and e.height == plan.entries[0].height + 10)
    refused(entries_without(plan, main_index), Offense.PROTOCOL_VIOLATION, "gap|parent")
    refused(JoinPlan(plan.entries, ()), Offense.PROTOCOL_VIOLATION, "without parent or work claim")
    refused(JoinPlan(plan.entries[-1:] + plan.entries[:-1], plan.claims), Offense.PROTOCOL_VIOLATION, "height order")
    refused(JoinPlan(plan.entries + plan.entries[-1:], plan.claims), Offense.PROTOCOL_VIOLATION, "twice")
    short = [e for e in plan.entries if e.height < plan.entries[0].height + reach(PARAMS) - 1]
    refused(JoinPlan(tuple(short), plan.claims), Offense.PROTOCOL_VIOLATION, "shorter than the context|does not list")
    stray = WorkClaim(b"\x07" * 32, 1, 1)
    refused(JoinPlan(plan.entries, plan.claims + (stray,)), Offense.PROTOCOL_VIOLATION, "does not list")


def test_the_plan_with_the_most_proof_of_work_is_followed_never_the_claims(served: ShareChain) -> None:
    behind = ShareChain(PARAMS)
    records = {r.hash: r for r in served.records()}
    # The same chain three shares shorter (a peer that is behind), its claims inflated a millionfold.
    full = build_plan(served)
    assert served.tip is not None
    cut = served.main_line.at(served.tip.height - 3)
    assert cut is not None
    shorter = [e for e in full.entries if records[sha256d(e.header)].height <= records[cut].height]
    liar = JoinPlan(tuple(shorter), tuple(dataclasses.replace(c, chain_work=c.chain_work * 10**6)
                                          for c in full.claims))
    honest = check_plan("honest", full, PARAMS, verify)
    lying = check_plan("liar", liar, PARAMS, verify)
    assert pick_plan([lying, honest]) is honest and pick_plan([honest, lying]) is honest
    # Another chain with nothing in common: compared on the work of its last window.
    young = check_plan("young", build_plan(grown(behind, 6, miner=7)), PARAMS, verify)
    assert young.window_work < honest.window_work
    assert pick_plan([young, honest]) is honest
    # Equal work: the first (the order peers announced work in) is kept.
    twin = check_plan("twin", full, PARAMS, verify)
    assert pick_plan([twin, honest]) is twin

