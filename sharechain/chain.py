"""The sharechain: an index of accepted shares, fork choice by most work, and the PPLNS window.

Pure: no I/O and no clock (``now`` is an argument). :meth:`ShareChain.add` reports what happened
in an :class:`AddResult`; the caller stores, announces, fetches or bans. The chain holds no rule:
it gathers the facts a share's rules need (:class:`ShareContext`, the window weights) and runs the
stages of :mod:`sharechain.validation` in their order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sharechain.bitcoin.hashing import hash_to_int
from sharechain.bitcoin.target import bits_to_target, work_from_target
from sharechain.bitcoin.transaction import NULL_HASH
from sharechain.context import ShareContext, UncleFacts
from sharechain.difficulty import next_share_bits
from sharechain.orphans import OrphanPool
from sharechain.params import NetworkParams
from sharechain.pplns import Payout, contribution, split_reward
from sharechain.record import ShareRecord
from sharechain.rejection import InvalidShare
from sharechain.result import AddResult, AddStatus, Refusal
from sharechain.share import Share, ShareInfo
from sharechain.validation import (
    CoinbasePayouts,
    check_in_context,
    check_payouts,
    check_standalone,
    coinbase_payouts,
    uncle_in_reach,
    uncle_rejection,
)
from sharechain.window import WindowCache


class ShareChain:
    def __init__(self, params: NetworkParams) -> None:
        self.params = params
        self._records: dict[bytes, ShareRecord] = {}
        self._children: dict[bytes, list[bytes]] = {}
        self._by_height: dict[int, list[bytes]] = {}
        self._contributions: dict[bytes, list[Payout]] = {}
        self._tip: ShareRecord | None = None
        self.orphans = OrphanPool()
        self._window = WindowCache(params.pplns_window, self._parent_hash, self.contribution, self._next_towards)

    # --- lookups -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, share_hash: bytes) -> bool:
        return share_hash in self._records

    def get(self, share_hash: bytes) -> ShareRecord | None:
        return self._records.get(share_hash)

    @property
    def tip(self) -> ShareRecord | None:
        return self._tip

    def records(self) -> Iterator[ShareRecord]:
        return iter(self._records.values())

    def ancestors(self, share_hash: bytes) -> Iterator[ShareRecord]:
        """The share itself, then its parent, and so on back to the oldest one known."""
        record = self._records.get(share_hash)
        while record is not None:
            yield record
            record = self._records.get(record.prev_hash)

    def ancestor_at_height(self, share_hash: bytes, height: int) -> ShareRecord | None:
        for record in self.ancestors(share_hash):
            if record.height == height:
                return record
            if record.height < height:
                return None
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
        times = []
        for record in self.ancestors(parent.hash):
            times.append(record.timestamp)
            if len(times) >= self.params.median_time_span:
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
        return ShareContext(parent, expected_bits, median, uncles)

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
        target_work = work_from_target(bits_to_target(info.share_bits))
        own = self._contribution_for(info.payout_script, target_work, info.uncles)
        parent = info.prev_hash if info.prev_hash in self._records else None
        return self._window.extend(parent, own).weights

    @property
    def windows_computed(self) -> int:
        """How many PPLNS window states this chain has computed (they are the costly part of a check)."""
        return self._window.computed

    def window_weights(self, share_hash: bytes) -> dict[bytes, int]:
        return dict(self._window.state(share_hash).weights)

    def payouts(self, share_hash: bytes, value: int) -> list[Payout]:
        """What the coinbase of an accepted share pays out of ``value`` satoshis."""
        record = self._records[share_hash]
        return split_reward(value, self._window.state(share_hash).weights, record.payout_script, self.params)

    # --- adding ----------------------------------------------------------------------------------
    def add(self, share: Share, now: int) -> AddResult:
        """Validate and connect ``share``; orphans waiting on it are connected too.

        Cheap checks first: already known, then the target (with the retarget value when the parent
        is known), proof of work, structure, then the in-context rules, and the PPLNS split last."""
        if share.hash in self._records or share.hash in self.orphans:
            return AddResult(AddStatus.DUPLICATE, share.hash)
        info = share.info
        parent = self._records.get(info.prev_hash)
        expected_bits = self.next_bits(parent) if parent is not None or info.prev_hash == NULL_HASH else None
        try:
            paid = check_standalone(share, self.params, expected_bits)
        except InvalidShare as exc:
            return _invalid(share.hash, exc)
        missing = self._missing(info)
        if missing:
            self.orphans.add(share, frozenset(missing))
            return AddResult(AddStatus.ORPHAN, share.hash, missing=tuple(missing))
        old_tip = self._tip
        try:
            self._check_connectable(share, now, paid, expected_bits)
        except InvalidShare as exc:
            return _invalid(share.hash, exc)
        accepted = [share]
        self._connect(share)
        rejected, still_missing = self._connect_orphans(share.hash, accepted, now)
        return AddResult(AddStatus.ADDED, share.hash, accepted=tuple(accepted), rejected=tuple(rejected),
                         missing=tuple(still_missing), **self._tip_change(old_tip))

    def _check_connectable(self, share: Share, now: int, paid: CoinbasePayouts | None = None,
                           expected_bits: int | None = None) -> None:
        """Stages 2 and 3 of validation for a share whose parent and uncles are known."""
        info = share.info
        check_in_context(info, self.context(info, expected_bits), self.params, now)
        if paid is None:
            paid = coinbase_payouts(share, self.params)
        check_payouts(info, paid, self.candidate_weights(info), self.params)

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
                    self._check_connectable(orphan, now)
                except InvalidShare as exc:
                    rejected.append(Refusal(orphan.hash, exc.rejection, exc.detail))
                    continue
                self._connect(orphan)
                accepted.append(orphan)
                queue.append(orphan.hash)
        return rejected, still_missing

    def _connect(self, share: Share) -> None:
        record = ShareRecord.from_share(share)
        self._insert(record)
        self._window.remember(record.hash, self._window.extend(
            record.prev_hash if record.prev_hash in self._records else None,
            self.contribution(record.hash), record.hash))

    def _insert(self, record: ShareRecord) -> None:
        record.fill_work()
        parent = self._records.get(record.prev_hash)
        uncle_work = sum(self._records[h].work for h in record.uncles)
        record.chain_work = (parent.chain_work if parent else 0) + record.work + uncle_work
        record.main_work = (parent.main_work if parent else 0) + record.work
        self._records[record.hash] = record
        self._children.setdefault(record.prev_hash, []).append(record.hash)
        self._by_height.setdefault(record.height, []).append(record.hash)
        if self._tip is None or _better(record, self._tip):
            self._tip = record

    def load(self, records: Iterable[ShareRecord]) -> None:
        """Index shares already validated earlier (from the store), parents before children."""
        for record in sorted(records, key=lambda r: r.height):
            self._insert(record)

    def _tip_change(self, old_tip: ShareRecord | None) -> dict:
        new_tip = self._tip
        if new_tip is None or new_tip is old_tip:
            return {}
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
        return {"new_tip": new_tip.hash, "reorg_depth": depth}

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


def _invalid(share_hash: bytes, exc: InvalidShare) -> AddResult:
    return AddResult(AddStatus.INVALID, share_hash, error=exc.detail, rejection=exc.rejection)


def _better(candidate: ShareRecord, incumbent: ShareRecord) -> bool:
    """Most cumulative work wins; equal work goes to the lower hash, so every node picks the same tip."""
    if candidate.chain_work != incumbent.chain_work:
        return candidate.chain_work > incumbent.chain_work
    return hash_to_int(candidate.hash) < hash_to_int(incumbent.hash)
