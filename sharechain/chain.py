"""The sharechain: an index of accepted shares, fork choice by most work, and the PPLNS window.

Pure: no I/O and no clock (``now`` is an argument). :meth:`ShareChain.add` reports what happened
in an :class:`AddResult`; the caller stores, announces, fetches or bans. The chain holds no rule:
it gathers the facts a share's rules need (:class:`ShareContext`, the window weights) and runs the
stages of :mod:`sharechain.validation` in their order.

Bounded by the keep rule (:mod:`sharechain.horizon`): forks below the floor are refused and the
shares below the lowest kept height are forgotten as the tip rises (``AddResult.pruned`` names them,
so the store deletes them too). A joining node starts from context shares it cannot validate in
context (:meth:`ShareChain.begin_join`, :meth:`ShareChain.add_context`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sharechain.bitcoin.frozen import builder
from sharechain.bitcoin.hashing import hash_to_int
from sharechain.bitcoin.target import bits_to_target, work_from_target
from sharechain.bitcoin.transaction import NULL_HASH
from sharechain.context import ShareContext, UncleFacts
from sharechain.difficulty import next_share_bits
from sharechain.horizon import NO_FLOOR, Horizon, floor_of_kept, lowest_kept, raise_floor
from sharechain.main_line import MainLine
from sharechain.orphans import OrphanPool
from sharechain.params import NetworkParams
from sharechain.pplns import Payout, SharedSplit, contribution, split_reward
from sharechain.prepared import PreparedShare
from sharechain.record import ShareRecord, target_and_work
from sharechain.rejection import InvalidShare, Rejection
from sharechain.result import AddResult, AddStatus, Refusal, added
from sharechain.share import Share, ShareInfo
from sharechain.validation import (
    CoinbasePayouts,
    StandaloneVerdict,
    WirePayouts,
    apply_verdict,
    check_in_context,
    check_payouts,
    check_standalone,
    coinbase_payouts,
    uncle_in_reach,
    uncle_rejection,
)
from sharechain.window import WindowCache, WindowState


class MissingClaim(ValueError):
    """A context share whose parent or uncles are not held came without its cumulative work."""


class ShareChain:
    def __init__(self, params: NetworkParams, *, prune: bool = True) -> None:
        self.params = params
        # False keeps every share (the floor rule still applies): tests compare with a pruned chain.
        self.prune = prune
        self.reset()

    def reset(self) -> None:
        """Forget every share (a node that joins the network again from a recent share)."""
        self._records: dict[bytes, ShareRecord] = {}
        self._children: dict[bytes, list[bytes]] = {}
        self._by_height: dict[int, list[bytes]] = {}
        self._contributions: dict[bytes, list[Payout]] = {}
        self._tip: ShareRecord | None = None
        self._main = MainLine()
        self._floor = NO_FLOOR
        self._lowest = 0
        self._pruned: list[bytes] = []
        self.orphans = OrphanPool()
        self._window = WindowCache(self.params.pplns_window, self._parent_hash, self.contribution,
                                   self._next_towards)

    # --- lookups -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, share_hash: bytes) -> bool:
        return share_hash in self._records

    def get(self, share_hash: bytes) -> ShareRecord | None:
        return self._records.get(share_hash)

    def __getitem__(self, share_hash: bytes) -> ShareRecord:
        """The record of a share known to be held (KeyError otherwise)."""
        return self._records[share_hash]

    @property
    def tip(self) -> ShareRecord | None:
        return self._tip

    def records(self) -> Iterator[ShareRecord]:
        return iter(self._records.values())

    @property
    def horizon(self) -> Horizon:
        """The floor (forks below it are refused) and the lowest height held."""
        return Horizon(self._floor, self._lowest)

    @property
    def main_line(self) -> MainLine:
        return self._main

    def at_height(self, height: int) -> list[bytes]:
        """Every share held at ``height`` (main chain or not), in hash order."""
        return sorted(self._by_height.get(height, ()))

    def ancestors(self, share_hash: bytes) -> Iterator[ShareRecord]:
        """The share itself, then its parent, and so on back to the oldest one known."""
        record = self._records.get(share_hash)
        while record is not None:
            yield record
            record = self._records.get(record.prev_hash)

    def ancestor_at_height(self, share_hash: bytes, height: int) -> ShareRecord | None:
        """The share's ancestor (or itself) at ``height``: walked down to the main chain, then looked up
        in the main line (a window's far end is thousands of heights down)."""
        record = self._records.get(share_hash)
        while record is not None:
            if record.height <= height:
                return record if record.height == height else None
            if self._main.holds(record):
                found = self._main.at(height)
                return self._records.get(found) if found is not None else None
            record = self._records.get(record.prev_hash)
        return None

    def main_chain(self, limit: int) -> list[ShareRecord]:
        if self._tip is None:
            return []
        out = []
        for record in self.ancestors(self._tip.hash):
            out.append(record)
            if len(out) >= limit:
                break
        return out

    def _parent_hash(self, share_hash: bytes) -> bytes | None:
        record = self._records[share_hash]
        return record.prev_hash if record.prev_hash in self._records else None

    def _next_towards(self, ancestor: bytes, descendant: bytes) -> bytes:
        children = self._children.get(ancestor, [])
        if len(children) == 1:
            return children[0]
        step = self.ancestor_at_height(descendant, self._records[ancestor].height + 1)
        assert step is not None and step.prev_hash == ancestor
        return step.hash

    # --- consensus values ----------------------------------------------------------------------
    def contribution(self, share_hash: bytes) -> list[Payout]:
        cached = self._contributions.get(share_hash)
        if cached is None:
            record = self._records[share_hash]
            cached = self._contribution_for(record.payout_script, record.work, record.uncles)
            self._contributions[share_hash] = cached
        return cached

    def _contribution_for(self, script: bytes, work: int, uncles: Iterable[bytes]) -> list[Payout]:
        uncle_weights = [(u.payout_script, u.work) for u in (self._records[h] for h in uncles)]
        return contribution(script, work, uncle_weights, self.params.uncle_penalty_percent)

    def next_bits(self, parent: ShareRecord | None) -> int:
        if parent is None:
            return next_share_bits(self.params, None, None)
        depth = min(self.params.retarget_window, parent.height)
        oldest = self.ancestor_at_height(parent.hash, parent.height - depth)
        return next_share_bits(self.params, parent, oldest)

    def median_time(self, parent: ShareRecord) -> int:
        span = self.params.median_time_span
        if self._main.holds(parent):  # (its ancestors are the main line below it: read by height)
            records = self._records
            times = [records[h].timestamp for h in self._main.heights(parent.height - span + 1, parent.height + 1)]
        else:
            times = []
            for record in self.ancestors(parent.hash):
                times.append(record.timestamp)
                if len(times) >= span:
                    break
        times.sort()
        return times[(len(times) - 1) // 2]  # the lower median, as statistics.median_low

    def context(self, info: ShareInfo, expected_bits: int | None = None) -> ShareContext:
        """The facts the in-context rules read about ``info``, whose parent and uncles are known.

        ``expected_bits`` is the retarget value if the caller has it already."""
        parent = self._records.get(info.prev_hash) if info.prev_hash != NULL_HASH else None
        if expected_bits is None:
            expected_bits = self.next_bits(parent)
        median = self.median_time(parent) if parent is not None else None
        uncles = tuple([self.uncle_facts(info.prev_hash, info.height, h) for h in info.uncles]) if info.uncles else ()
        return _context(parent, expected_bits, median, uncles)

    def uncle_facts(self, prev_hash: bytes, height: int, uncle_hash: bytes) -> UncleFacts:
        """What the uncle rule needs about ``uncle_hash`` named by a share at ``height`` on ``prev_hash``."""
        uncle = self._records[uncle_hash]
        if not uncle_in_reach(height, uncle.height, self.params):
            return UncleFacts(uncle_hash, uncle.height)
        parent_side = self.ancestor_at_height(prev_hash, uncle.height - 1)
        on_own_chain = already_included = False
        for ancestor in self.ancestors(prev_hash):
            if ancestor.height < uncle.height:
                break
            on_own_chain = on_own_chain or ancestor.hash == uncle_hash
            already_included = already_included or uncle_hash in ancestor.uncles
        return UncleFacts(uncle_hash, uncle.height, parent_side is not None and parent_side.hash == uncle.prev_hash,
                          on_own_chain, already_included)

    def candidate_weights(self, info: ShareInfo) -> dict[bytes, int]:
        """PPLNS weights of the window ending with a share carrying ``info`` (mined or not)."""
        return self._candidate_window(info).weights

    def _candidate_window(self, info: ShareInfo) -> WindowState:
        own = self._contribution_for(info.payout_script, target_and_work(info.share_bits)[1], info.uncles)
        parent = info.prev_hash if info.prev_hash in self._records else None
        return self._window.extend(parent, own)

    @property
    def windows_computed(self) -> int:
        """How many PPLNS window states this chain has computed (they are the costly part of a check)."""
        return self._window.computed

    def window_weights(self, share_hash: bytes) -> dict[bytes, int]:
        return dict(self._window_of(share_hash).weights)

    def payouts(self, share_hash: bytes, value: int) -> list[Payout]:
        """What the coinbase of an accepted share pays out of ``value`` satoshis."""
        record = self._records[share_hash]
        return split_reward(value, self._window_of(share_hash).weights, record.payout_script, self.params)

    def _window_of(self, share_hash: bytes) -> WindowState:
        record = self._records[share_hash]
        if self._lowest > 0 and record.height < self._floor:
            raise KeyError(f"the window of the share at height {record.height} reaches below the lowest share "
                           f"kept ({self._lowest}): only shares from the floor ({self._floor}) up have one")
        return self._window.state(share_hash)

    # --- adding ----------------------------------------------------------------------------------
    def add(self, share: Share, now: int, checked: StandaloneVerdict | None = None) -> AddResult:
        """Validate and connect ``share``; orphans waiting on it are connected too.

        Cheap checks first: already known, then the target (with the retarget value when the parent
        is known), proof of work, structure, then the in-context rules, and the PPLNS split last.
        ``checked``: what :func:`~sharechain.validation.check_bytes` found of the share's bytes (a
        join checks them in another process), taken for those rules but the retarget."""
        if share.hash in self._records or share.hash in self.orphans:
            return AddResult(AddStatus.DUPLICATE, share.hash)
        info = share.info
        parent = self._records.get(info.prev_hash)
        try:
            self._check_fork(info, parent)
            expected_bits = self.next_bits(parent) if parent is not None or info.prev_hash == NULL_HASH else None
            paid: CoinbasePayouts | WirePayouts = (check_standalone(share, self.params, expected_bits) if checked is None
                                                   else apply_verdict(share, checked, expected_bits))
        except InvalidShare as exc:
            return _invalid(share.hash, exc)
        missing = self._missing(info)
        if missing:
            self.orphans.add(share, frozenset(missing))
            return AddResult(AddStatus.ORPHAN, share.hash, missing=tuple(missing))
        old_tip = self._tip
        try:
            state = self._check_connectable(share, now, paid, expected_bits)
        except InvalidShare as exc:
            return _invalid(share.hash, exc)
        accepted = [share]
        self._connect(share, state)
        rejected, still_missing = self._connect_orphans(share.hash, accepted, now)
        new_tip, depth = self._tip_change(old_tip)  # before pruning: the old tip may fall below the new horizon
        return added(share.hash, tuple(accepted), tuple(rejected), tuple(still_missing), new_tip, depth, self._prune())

    def _check_fork(self, info: ShareInfo, parent: ShareRecord | None) -> None:
        """The keep rule's consensus half: a share whose chain leaves our main chain below the floor is
        refused before anything reads its context (which may be pruned already)."""
        if info.prev_hash == NULL_HASH:
            fork = -1
        elif parent is None:
            fork = info.height - 1  # the highest it could fork at; unknown until the parent arrives
        else:
            fork = self._fork_height(parent)
        if fork < self._floor:
            raise InvalidShare(Rejection.FORK_TOO_DEEP, f"share at height {info.height} forks off the main chain "
                                                        f"below height {self._floor}, the floor "
                                                        f"({self.params.reorg_margin} below the highest tip)")

    def _fork_height(self, record: ShareRecord) -> int:
        """Height where ``record``'s chain meets the main chain (walking down no further than the floor)."""
        while not self._main.holds(record):
            parent = self._records.get(record.prev_hash)
            if parent is None or record.height <= self._floor:
                return record.height - 1
            record = parent
        return record.height

    def _check_connectable(self, share: Share, now: int, paid: CoinbasePayouts | WirePayouts | None = None,
                           expected_bits: int | None = None) -> WindowState:
        """Stages 2 and 3 of validation for a share whose parent and uncles are known; returns its window."""
        info = share.info
        check_in_context(info, self.context(info, expected_bits), self.params, now)
        if paid is None:
            paid = coinbase_payouts(share, self.params)
        state = self._candidate_window(info)
        check_payouts(info, paid, state.weights, self.params)
        return state

    def _missing(self, info: ShareInfo) -> list[bytes]:
        needed = [info.prev_hash] if info.prev_hash != NULL_HASH else []
        needed += list(info.uncles)
        return [h for h in needed if h not in self._records]

    def _connect_orphans(self, connected: bytes, accepted: list[Share], now: int) -> tuple[list[Refusal], list[bytes]]:
        rejected: list[Refusal] = []
        still_missing: list[bytes] = []
        queue = [connected]
        while queue:
            for orphan in self.orphans.waiting_for(queue.pop()):
                missing = self._missing(orphan.info)
                if missing:
                    self.orphans.add(orphan, frozenset(missing))
                    still_missing += missing
                    continue
                try:
                    self._check_fork(orphan.info, self._records.get(orphan.info.prev_hash))
                    state = self._check_connectable(orphan, now)
                except InvalidShare as exc:
                    rejected.append(Refusal(orphan.hash, exc.rejection, exc.detail))
                    continue
                self._connect(orphan, state)
                accepted.append(orphan)
                queue.append(orphan.hash)
        return rejected, still_missing

    def _connect(self, share: Share, state: WindowState) -> None:
        record = ShareRecord.from_share(share)
        record.fill_work()
        held = self._accumulate(record)
        assert held, "a share connects only once its parent and uncles are held"
        self._insert(record)
        self._window.remember(record.hash, state)
        self._follow_tip()

    def _accumulate(self, record: ShareRecord) -> bool:
        """Set ``record``'s cumulative work from its parent and uncles; False when one is not held."""
        parent = self._records.get(record.prev_hash)
        if parent is None and record.prev_hash != NULL_HASH:
            return False
        uncle_work = 0
        for uncle_hash in record.uncles:
            uncle = self._records.get(uncle_hash)
            if uncle is None:
                return False
            uncle_work += uncle.work
        record.chain_work = (parent.chain_work if parent else 0) + record.work + uncle_work
        record.main_work = (parent.main_work if parent else 0) + record.work
        return True

    def _insert(self, record: ShareRecord) -> None:
        """Index a record whose cumulative work is set."""
        self._records[record.hash] = record
        self._children.setdefault(record.prev_hash, []).append(record.hash)
        self._by_height.setdefault(record.height, []).append(record.hash)
        if self._tip is None or _better(record, self._tip):
            self._tip = record

    def load(self, records: Iterable[ShareRecord], floor: int = NO_FLOOR) -> tuple[bytes, ...]:
        """Index shares validated earlier (from the store, with their stored cumulative work), parents
        before children, under the ``floor`` they were kept for; returns the hashes pruned because the
        keep rule no longer needs them."""
        for record in sorted(records, key=lambda r: r.height):
            record.fill_work()
            self._accumulate(record)  # recomputed wherever parent and uncles are held; else as stored
            self._insert(record)
        if self._records:
            self._lowest = min(self._by_height)
        tip = self._tip
        if tip is not None:
            self._main.follow(tip, self._records.get)
            self._floor = max(floor, floor_of_kept(self._lowest, tip.height, self.params))
        return self._prune()

    # --- the keep rule -----------------------------------------------------------------------------
    def _follow_tip(self) -> None:
        """The tip may have moved: follow it with the main line and raise the floor (the shares below
        the new horizon are pruned once the add is done: :meth:`_prune`)."""
        tip = self._tip
        if tip is None or (len(self._main) and self._main.at(self._main.top) == tip.hash):
            return
        self._main.follow(tip, self._records.get)
        floor = raise_floor(self._floor, tip.height, self.params)
        if floor != self._floor:
            self._floor = floor
            self.orphans.prune(floor)

    def _prune(self) -> tuple[bytes, ...]:
        """Forget what fell below the lowest kept height; returns every hash pruned since the last call."""
        self._prune_to(lowest_kept(self._floor, self.params))
        return self._take_pruned()

    def _prune_to(self, lowest: int) -> None:
        if not self.prune or lowest <= self._lowest:
            return
        gone: list[bytes] = []
        for height in range(self._lowest, lowest):
            for share_hash in sorted(self._by_height.pop(height, ())):  # the same order on every node
                del self._records[share_hash]
                self._children.pop(share_hash, None)
                self._contributions.pop(share_hash, None)
                gone.append(share_hash)
        self._window.forget(gone)
        self._main.trim(lowest)
        self._lowest = lowest
        self._pruned += gone

    def _take_pruned(self) -> tuple[bytes, ...]:
        pruned, self._pruned = tuple(self._pruned), []
        return pruned

    # --- joining from a recent share ------------------------------------------------------------------
    def begin_join(self, lowest: int) -> None:
        """Start an empty chain at height ``lowest``: the context part, ``lowest`` up to the floor
        (``lowest + reach - 1``), comes through :meth:`add_context`, everything above through :meth:`add`."""
        if self._records:
            raise ValueError("a chain joins from a recent share only when it is empty")
        self._lowest = lowest
        self._floor = floor_of_kept(lowest, lowest, self.params)

    def add_context(self, share: Share, claim: tuple[int, int] | None = None,
                    checked: StandaloneVerdict | None = None) -> AddResult:
        """Connect a share of the context part: proof of work, structure and commitment are checked (its
        context is not held: that is what is taken on trust), its place comes from its parent, or, for a
        share whose parent or an uncle is not held, from ``claim`` (its chain work and main work).
        ``checked``: those checks' verdict on its bytes, found in another process (as in :meth:`add`)."""
        if share.hash in self._records:
            return AddResult(AddStatus.DUPLICATE, share.hash)
        info = share.info
        if not self._lowest <= info.height <= self._floor:
            raise ValueError(f"height {info.height} is not in the context part {self._lowest}..{self._floor}")
        try:
            if checked is None:
                check_standalone(share, self.params, None)
            else:
                apply_verdict(share, checked, None)
        except InvalidShare as exc:
            return _invalid(share.hash, exc)
        record = ShareRecord.from_share(share)
        record.fill_work()
        parent = self._records.get(info.prev_hash)
        if parent is not None and info.height != parent.height + 1:
            return _invalid(share.hash, InvalidShare(Rejection.PARENT_HEIGHT))
        if not self._accumulate(record):
            if claim is None:
                raise MissingClaim(f"context share at height {info.height} came without its cumulative work")
            record.chain_work, record.main_work = claim
        old_tip = self._tip
        self._insert(record)
        self._follow_tip()
        new_tip, depth = self._tip_change(old_tip)
        return added(share.hash, (share,), new_tip=new_tip, reorg_depth=depth)

    def _tip_change(self, old_tip: ShareRecord | None) -> tuple[bytes | None, int]:
        """The new tip's hash (None: the tip did not change) and how many shares left the main chain."""
        new_tip = self._tip
        if new_tip is None or new_tip is old_tip:
            return None, 0
        depth = 0
        if old_tip is not None:
            fork = self.ancestor_at_height(new_tip.hash, old_tip.height)
            probe = old_tip
            while fork is None or fork.hash != probe.hash:
                depth += 1
                parent = self._records.get(probe.prev_hash)
                if parent is None:
                    break
                probe = parent
                fork = self.ancestor_at_height(new_tip.hash, probe.height)
        return new_tip.hash, depth

    # --- work for miners ---------------------------------------------------------------------------
    def uncle_candidates(self, parent: ShareRecord) -> list[bytes]:
        """Side shares the next share on ``parent`` may include as uncles: the eligible ones with the most
        work first (they pay the most, to their miners and, by the penalty, to the includer), ties by
        lower height then hash, so every node builds the same list; at most ``max_uncles``."""
        height = parent.height + 1
        found = [share_hash for h in range(max(1, height - self.params.uncle_depth), height)
                 for share_hash in self._by_height.get(h, ())
                 if uncle_rejection(height, self.uncle_facts(parent.hash, height, share_hash), self.params) is None]
        found.sort(key=lambda h: (-self._records[h].work, self._records[h].height, h))
        return found[: self.params.max_uncles]

    def prepare(self, payout_script: bytes, now: int, value: int) -> tuple[ShareInfo, list[Payout]]:
        """Share information and coinbase payouts for a new share on the current tip."""
        parent = self._tip
        if parent is None:
            info = ShareInfo(NULL_HASH, 0, now, self.next_bits(None), payout_script)
        else:
            timestamp = max(now, self.median_time(parent) + 1)
            info = ShareInfo(parent.hash, parent.height + 1, timestamp, self.next_bits(parent), payout_script,
                             tuple(self.uncle_candidates(parent)))
        return info, split_reward(value, self.candidate_weights(info), payout_script, self.params)

    def prepare_shared(self, now: int, value: int) -> PreparedShare:
        """:meth:`prepare` for every payout script at once: the tip's part computed once (median time,
        retarget, uncles, the window moved on), so that each miner's job costs only its own split."""
        parent = self._tip
        uncles: tuple[bytes, ...] = ()
        if parent is None:
            prev_hash, height, timestamp, bits = NULL_HASH, 0, now, self.next_bits(None)
        else:
            prev_hash, height = parent.hash, parent.height + 1
            timestamp = max(now, self.median_time(parent) + 1)
            bits, uncles = self.next_bits(parent), tuple(self.uncle_candidates(parent))
        target_work = work_from_target(bits_to_target(bits))
        weights = self._contribution_for(b"", target_work, uncles)
        own_weight = weights.pop()[1]  # the share's own entry is the last; the rest are its uncles'
        window = self._window.extend(prev_hash if prev_hash in self._records else None, weights)
        split = SharedSplit(value, window.weights, own_weight, self.params)
        return PreparedShare(prev_hash, height, timestamp, bits, uncles, split)


_context = builder(ShareContext)  # (one per share checked: built through its slots)


def _invalid(share_hash: bytes, exc: InvalidShare) -> AddResult:
    return AddResult(AddStatus.INVALID, share_hash, error=exc.detail, rejection=exc.rejection)


def _better(candidate: ShareRecord, incumbent: ShareRecord) -> bool:
    """Most cumulative work wins; equal work goes to the lower hash, so every node picks the same tip."""
    if candidate.chain_work != incumbent.chain_work:
        return candidate.chain_work > incumbent.chain_work
    return hash_to_int(candidate.hash) < hash_to_int(incumbent.hash)
