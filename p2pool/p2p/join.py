"""Joining from a recent share, sans I/O: the plan a node serves, how a joining node checks plans
headers first, and which one it follows.

A plan lists every share the sender keeps (its lowest kept height up to its tip, main chain and side
shares) as headers with the share target, parent and height each claims, plus the cumulative work
of the few shares whose parent or uncles it does not keep. The joining node checks every header's
proof of work in one kernel batch and the plan's shape before it downloads a single share, then
follows the plan with the most proof of work (:func:`pick_plan`), downloads the shares and validates
them: the context part (lowest height up to the floor) alone, everything above in full.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from p2pool.p2p.messages import MAX_CLAIMS, MAX_JOIN_ENTRIES, JoinEntry, JoinPlan, WorkClaim
from p2pool.p2p.scoring import Offense
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.target import bits_to_target, work_from_target
from sharechain.chain import ShareChain
from sharechain.horizon import reach
from sharechain.params import NetworkParams
from sharechain.share import ShareInfo

# verify(headers, targets) -> one bool per header: sha256d(header) <= target (kernels.factory.verify_headers).
Verify = Callable[[bytes, Sequence[int]], list[bool]]


def build_plan(chain: ShareChain) -> JoinPlan:
    """Every share ``chain`` keeps, lowest first, with the claims a joining node needs for them."""
    records = sorted(chain.records(), key=lambda r: (r.height, r.hash))
    kept = {r.hash for r in records}
    main = chain.main_line
    entries = tuple(JoinEntry(r.header, r.share_bits, r.prev_hash, r.height, main.holds(r)) for r in records)
    claims = tuple(WorkClaim(r.hash, r.chain_work, r.main_work) for r in records
                   if r.prev_hash not in kept or any(u not in kept for u in r.uncles))
    return JoinPlan(entries[:MAX_JOIN_ENTRIES], claims[:MAX_CLAIMS])


class PlanRefused(Exception):
    """A plan that cannot be followed, and what it costs the peer that sent it."""

    def __init__(self, offense: Offense, reason: str) -> None:
        super().__init__(reason)
        self.offense = offense


@dataclass(frozen=True)
class CheckedPlan:
    """A plan whose every header meets the target it claims and whose shape holds together."""

    peer: str
    hashes: tuple[bytes, ...]  # every share, in the plan's order (lowest height first)
    entries: dict[bytes, JoinEntry]
    main: tuple[bytes, ...]  # the sender's main chain, lowest first
    lowest: int
    claims: dict[bytes, tuple[int, int]]
    work: dict[bytes, int]  # each share's own work (from the target its header meets)
    # Proof of work of the main chain over its last pplns_window heights (compared when plans share
    # no main-chain share).
    window_work: int

    @property
    def tip(self) -> bytes:
        return self.main[-1]

    @property
    def tip_height(self) -> int:
        return self.lowest + len(self.main) - 1

    def context_top(self, params: NetworkParams) -> int:
        """The highest height of the context part (-1: the plan starts at a chain's first share)."""
        return self.lowest + reach(params) - 1 if self.lowest > 0 else -1

    def matches(self, share_hash: bytes, info: ShareInfo) -> bool:
        """Whether a downloaded share says what its entry claimed."""
        entry = self.entries[share_hash]
        return (info.share_bits, info.prev_hash, info.height) == (entry.share_bits, entry.prev_hash, entry.height)


def check_plan(peer: str, plan: JoinPlan, params: NetworkParams, verify: Verify) -> CheckedPlan:
    """Headers first: proof of work of every entry (one batch), then the plan's shape; raises
    :class:`PlanRefused` naming the offense."""
    entries = plan.entries
    if not entries:
        raise PlanRefused(Offense.PROTOCOL_VIOLATION, "an empty join plan")
    # Tens of thousands of entries, a few distinct share targets: each decoded (and its work reckoned) once.
    decoded: dict[int, int] = {}
    try:
        for bits in {e.share_bits for e in entries}:
            decoded[bits] = bits_to_target(bits)
    except ValueError as exc:
        raise PlanRefused(Offense.INVALID_SHARE, f"join plan entry with a bad share target: {exc}") from None
    targets = [decoded[e.share_bits] for e in entries]
    if any(t == 0 or t > params.max_share_target for t in decoded.values()):
        raise PlanRefused(Offense.INVALID_SHARE, "join plan entry easier than the network's minimum share target")
    if not all(verify(b"".join(e.header for e in entries), targets)):
        raise PlanRefused(Offense.INVALID_SHARE, "join plan entry without its proof of work")
    hashes = tuple(sha256d(e.header) for e in entries)
    by_hash = dict(zip(hashes, entries, strict=True))
    if len(by_hash) != len(entries):
        raise PlanRefused(Offense.PROTOCOL_VIOLATION, "join plan lists a share twice")
    claims = {c.hash: (c.chain_work, c.main_work) for c in plan.claims}
    _check_shape(entries, hashes, by_hash, claims, params)
    main = tuple(h for h, e in zip(hashes, entries, strict=True) if e.main)
    work_of = {t: work_from_target(t) for t in set(decoded.values())}
    work = {h: work_of[t] for h, t in zip(hashes, targets, strict=True)}
    window_work = sum(work[h] for h in main[-params.pplns_window :])
    return CheckedPlan(peer, hashes, by_hash, main, entries[0].height, claims, work, window_work)


def _check_shape(entries: Sequence[JoinEntry], hashes: Sequence[bytes], by_hash: dict[bytes, JoinEntry],
                 claims: dict[bytes, tuple[int, int]], params: NetworkParams) -> None:
    lowest = entries[0].height
    previous_height = lowest
    main_height = lowest - 1
    main_hash = b""
    for share_hash, entry in zip(hashes, entries, strict=True):
        if entry.height < previous_height:
            raise PlanRefused(Offense.PROTOCOL_VIOLATION, "join plan not in height order")
        previous_height = entry.height
        parent = by_hash.get(entry.prev_hash)
        if parent is None:
            if share_hash not in claims and not (entry.height == 0 and lowest == 0):
                raise PlanRefused(Offense.PROTOCOL_VIOLATION, "join plan share without parent or work claim")
        elif parent.height != entry.height - 1:
            raise PlanRefused(Offense.PROTOCOL_VIOLATION, "join plan share whose height does not follow its parent")
        if entry.main:
            if entry.height != main_height + 1 or (main_hash and entry.prev_hash != main_hash):
                raise PlanRefused(Offense.PROTOCOL_VIOLATION, "join plan whose main chain has a gap")
            main_height, main_hash = entry.height, share_hash
    if main_height < lowest:
        raise PlanRefused(Offense.PROTOCOL_VIOLATION, "join plan without a main chain")
    if lowest > 0 and main_height - lowest + 1 < reach(params):
        raise PlanRefused(Offense.PROTOCOL_VIOLATION, "join plan shorter than the context its shares need")
    if any(h not in by_hash for h in claims):
        raise PlanRefused(Offense.PROTOCOL_VIOLATION, "join plan claims work for a share it does not list")


def pick_plan(plans: Sequence[CheckedPlan]) -> CheckedPlan:
    """The plan to follow: the one with the most proof of work, never by what a peer claims. Plans on
    the same chain (sharing a main-chain share) are compared on the work above the highest share they
    share, as fork choice would; plans with nothing in common on their last ``pplns_window`` heights.
    Ties keep the earlier plan (the caller orders them by the work their peers announced)."""
    best = plans[0]
    for plan in plans[1:]:
        if _heavier(plan, best):
            best = plan
    return best


def _heavier(a: CheckedPlan, b: CheckedPlan) -> bool:
    shared = set(a.main) & set(b.main)
    if not shared:
        return a.window_work > b.window_work
    top = max(a.entries[h].height for h in shared)
    above_a = sum(a.work[h] for h in a.main if a.entries[h].height > top)
    above_b = sum(b.work[h] for h in b.main if b.entries[h].height > top)
    return above_a > above_b
