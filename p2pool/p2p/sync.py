"""Sharechain sync, sans I/O: locators, serving ranges of the main chain, and download planning.

A node that is behind asks one peer for the hashes that follow its locator (the inventory), then
fetches the shares themselves in batches from every suitable peer at once and applies them in
chain order. Nothing here touches the network or a clock: time comes in as ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from sharechain.chain import ShareChain
from sharechain.main_line import MainLine

T = TypeVar("T")


class HashSet(Protocol):
    def __contains__(self, share_hash: bytes, /) -> bool: ...


class MainChainIndex(MainLine):
    """Main-chain share hashes by height, kept up to date cheaply as the tip moves (and as the keep
    rule prunes the oldest)."""

    def update(self, chain: ShareChain) -> None:
        """Follow ``chain``'s tip: append on extension, rewrite only the part a reorg replaced."""
        self.follow(chain.tip, chain.get)
        self.trim(chain.horizon.lowest)

    def on_main_chain(self, chain: ShareChain, share_hash: bytes) -> bool:
        record = chain.get(share_hash)
        return record is not None and self.at(record.height) == share_hash


class RecentShares:
    """Hashes of every share near the tip by height, main chain or not (what :class:`GetRecent` serves)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._by_height: dict[int, set[bytes]] = {}
        self._top = -1

    def add(self, height: int, share_hash: bytes) -> None:
        if height < self._top - self.keep:
            return
        self._by_height.setdefault(height, set()).add(share_hash)
        if height > self._top:
            previous, self._top = self._top, height
            if height - previous > self.keep:  # a jump (a sync): sweep everything once
                for old in [h for h in self._by_height if h < height - self.keep]:
                    del self._by_height[old]
            else:  # the tip moved up a little: only the heights that fell off
                for old in range(previous - self.keep, height - self.keep):
                    self._by_height.pop(old, None)

    def hashes(self, depth: int) -> list[bytes]:
        """Shares at most ``depth`` heights below the highest one, lowest heights first."""
        low = self._top - min(depth, self.keep)
        return [h for height in sorted(k for k in self._by_height if k >= low)
                for h in sorted(self._by_height[height])]


def locator(index: MainChainIndex, max_entries: int = 64) -> tuple[bytes, ...]:
    """The tip, the 10 shares below it, then exponentially spaced ancestors, ending with the oldest."""
    if not len(index):
        return ()
    out: list[bytes] = []
    height, step = index.top, 1
    while height > index.base and len(out) < max_entries - 1:
        out.append(index.at(height))  # type: ignore[arg-type]
        if len(out) >= 10:
            step *= 2
        height -= step
    out.append(index.at(index.base))  # type: ignore[arg-type]
    return tuple(out)


def fork_height(index: MainChainIndex, chain: ShareChain, locator_hashes: Iterable[bytes]) -> int:
    """Height of the first locator share on our main chain; ``base - 1`` when none is."""
    for share_hash in locator_hashes:
        record = chain.get(share_hash)
        if record is not None and index.at(record.height) == share_hash:
            return record.height
    return index.base - 1


def following(index: MainChainIndex, chain: ShareChain, locator_hashes: Iterable[bytes], stop: bytes,
              limit: int) -> list[bytes]:
    """Main-chain hashes after the fork point with the locator, oldest first, up to ``stop`` and ``limit``."""
    start = fork_height(index, chain, locator_hashes) + 1
    hashes = index.heights(start, start + max(limit, 0))
    if stop in hashes:
        hashes = hashes[: hashes.index(stop) + 1]
    return hashes


@dataclass(frozen=True)
class PeerTip:
    """What a peer last said its best share is."""

    hash: bytes
    height: int
    chain_work: int


@dataclass
class Batch(Generic[T]):
    """A run of consecutive hashes to fetch; ``got`` collects the shares as they come."""

    number: int
    hashes: tuple[bytes, ...]
    got: dict[bytes, T] = field(default_factory=dict)
    peer: str | None = None
    deadline: float = 0.0
    tried: set[str] = field(default_factory=set)

    @property
    def missing(self) -> tuple[bytes, ...]:
        return tuple(h for h in self.hashes if h not in self.got)

    @property
    def complete(self) -> bool:
        return len(self.got) == len(self.hashes)


@dataclass(frozen=True)
class Request:
    """Ask ``peer`` for the shares of batch ``number``; give up at ``deadline``."""

    peer: str
    number: int
    hashes: tuple[bytes, ...]
    deadline: float


class DownloadPlan(Generic[T]):
    """Spreads an inventory over peers in batches and releases the shares in chain order.

    Each peer has at most ``per_peer`` batches in flight; a batch a peer fails (timeout, missing
    shares) goes to another peer. When every eligible peer has failed a batch, :attr:`stalled` is
    set and the caller starts over with a fresh inventory.
    """

    def __init__(self, batch_size: int = 500, per_peer: int = 2, timeout: float = 10.0) -> None:
        self.batch_size = batch_size
        self.per_peer = per_peer
        self.timeout = timeout
        self._batches: dict[int, Batch[T]] = {}
        self._next_number = 0
        self._next_release = 0
        self.stalled = False
        self.queued = 0  # hashes planned and not yet released

    @property
    def idle(self) -> bool:
        return not self._batches

    def add_inventory(self, hashes: Iterable[bytes]) -> None:
        pending = list(hashes)
        for start in range(0, len(pending), self.batch_size):
            chunk = tuple(pending[start : start + self.batch_size])
            self._batches[self._next_number] = Batch[T](self._next_number, chunk)
            self._next_number += 1
            self.queued += len(chunk)

    def in_flight(self, peer: str) -> int:
        return sum(1 for b in self._batches.values() if b.peer == peer)

    def assign(self, peers: Iterable[str], now: float) -> list[Request]:
        """Hand unassigned batches (oldest first) to the least busy peers that have not failed them."""
        candidates = list(peers)
        requests = []
        for batch in sorted(self._batches.values(), key=lambda b: b.number):
            if batch.peer is not None or batch.complete:
                continue
            usable = [p for p in candidates if p not in batch.tried and self.in_flight(p) < self.per_peer]
            if not usable:
                if all(p in batch.tried for p in candidates):
                    self.stalled = True
                continue
            peer = min(usable, key=self.in_flight)
            batch.peer, batch.deadline = peer, now + self.timeout
            batch.tried.add(peer)
            requests.append(Request(peer, batch.number, batch.missing, batch.deadline))
        return requests

    def received(self, peer: str, number: int, shares: dict[bytes, T]) -> bool:
        """Record a reply (hash -> share); False when it did not bring every share asked for."""
        batch = self._batches.get(number)
        if batch is None or batch.peer != peer:
            return True  # a late reply to a batch already given to someone else: harmless
        batch.peer = None
        asked = set(batch.hashes)
        for share_hash, raw in shares.items():
            if share_hash in asked:
                batch.got[share_hash] = raw
        return batch.complete

    def failed(self, peer: str, number: int) -> None:
        """``peer`` did not answer batch ``number`` in time (or answered with garbage)."""
        batch = self._batches.get(number)
        if batch is not None and batch.peer == peer:
            batch.peer = None

    def expire(self, now: float) -> list[tuple[str, int]]:
        """Batches whose peer is past the deadline: taken back, and returned as (peer, number)."""
        late = [(b.peer, b.number) for b in self._batches.values() if b.peer is not None and now >= b.deadline]
        for _, number in late:
            self._batches[number].peer = None
        return late

    def release(self) -> list[T]:
        """Shares of the completed batches that come next in chain order."""
        out: list[T] = []
        while (batch := self._batches.get(self._next_release)) is not None and batch.complete:
            out += [batch.got[h] for h in batch.hashes]
            del self._batches[self._next_release]
            self._next_release += 1
            self.queued -= len(batch.hashes)
        return out

    def forget_peer(self, peer: str) -> None:
        for batch in self._batches.values():
            if batch.peer == peer:
                batch.peer = None

    def clear(self) -> None:
        self._batches.clear()
        self._next_release = self._next_number
        self.stalled = False
        self.queued = 0


@dataclass(frozen=True)
class SyncProgress:
    """How far this node is from the best tip its peers announced."""

    have_height: int
    target_height: int
    syncing: bool
    behind: bool

    @property
    def fraction(self) -> float:
        if self.target_height <= 0:
            return 1.0
        return max(0.0, min(1.0, (self.have_height + 1) / (self.target_height + 1)))

    def as_dict(self) -> dict[str, object]:
        return {"have_height": self.have_height, "target_height": self.target_height, "syncing": self.syncing,
                "behind": self.behind, "progress": round(self.fraction, 4)}


def ahead(tip: PeerTip, our_work: int, our_height: int, lead: int) -> bool:
    """Whether a peer's tip may be worth fetching: more announced work than ours, or ``lead`` heights
    higher. Heights too: the work a peer announces rests on the cumulative work a joined node took on
    trust for its oldest shares, so announcements of two nodes may be offset; what is fetched is
    validated and chosen by fork choice on our own numbers either way."""
    return tip.chain_work > our_work or tip.height >= our_height + lead


def best_peer(tips: dict[str, PeerTip], our_work: int, known: HashSet = frozenset(), our_height: int = 1 << 62,
              lead: int = 2) -> str | None:
    """The peer ahead of us (:func:`ahead`) with the most announced work whose tip we lack (ties: lowest
    peer id; then the highest tip)."""
    better = [(t.chain_work, t.height, p) for p, t in tips.items()
              if ahead(t, our_work, our_height, lead) and t.hash not in known]
    if not better:
        return None
    top = max((w, h) for w, h, _ in better)
    return min(p for w, h, p in better if (w, h) == top)


def progress(have_height: int, tips: dict[str, PeerTip], our_work: int, syncing: bool,
             behind_threshold: int, known: HashSet = frozenset()) -> SyncProgress:
    """Progress against the highest tip among peers ahead of us (:func:`ahead`) whose tip we lack."""
    heights = [t.height for t in tips.values()
               if ahead(t, our_work, have_height, behind_threshold + 1) and t.hash not in known]
    target = max(heights, default=have_height)
    target = max(target, have_height)
    return SyncProgress(have_height, target, syncing, target - have_height > behind_threshold)
