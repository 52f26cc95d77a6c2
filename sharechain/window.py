"""The PPLNS window: per-script weights over the last ``pplns_window`` main-chain shares.

Kept incrementally: a share's window is its parent's plus its own contribution, minus the share
that falls out at the far end, so validating a share costs O(miners), not O(window).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sharechain.bitcoin.frozen import builder
from sharechain.pplns import Payout, add_weights

_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class WindowState:
    weights: dict[bytes, int]
    tail: bytes  # oldest main-chain share inside the window
    length: int  # main-chain shares inside the window


_state = builder(WindowState)  # (one per share checked: built through its slots)


class WindowCache:
    """Window states of recent shares, computed from the index through callbacks."""

    def __init__(self, size: int, parent_of: Callable[[bytes], bytes | None],
                 contribution_of: Callable[[bytes], list[Payout]],
                 next_towards: Callable[[bytes, bytes], bytes]) -> None:
        self.size = size
        self._parent_of = parent_of
        self._contribution_of = contribution_of
        # next_towards(ancestor, descendant): the child of ``ancestor`` on the way to ``descendant``.
        self._next_towards = next_towards
        self._states: OrderedDict[bytes, WindowState] = OrderedDict()
        # How many window states were computed (each costs O(miners), or O(window) from scratch).
        self.computed = 0

    def state(self, share_hash: bytes) -> WindowState:
        cached = self._states.get(share_hash)
        if cached is not None:
            self._states.move_to_end(share_hash)
            return cached
        parent = self._parent_of(share_hash)
        if parent is not None and parent in self._states:
            state = self.extend(parent, self._contribution_of(share_hash), share_hash)
        else:
            state = self._from_scratch(share_hash)
        self._remember(share_hash, state)
        return state

    def extend(self, parent: bytes | None, contribution: list[Payout], new_hash: bytes | None = None) -> WindowState:
        """The window of a share (``new_hash``, or a candidate not mined yet) built on ``parent``."""
        self.computed += 1
        if parent is None:
            weights: dict[bytes, int] = {}
            add_weights(weights, contribution)
            return _state(weights, new_hash or b"", 1)
        base = self.state(parent)
        weights = dict(base.weights)
        add_weights(weights, contribution)
        if base.length < self.size:
            return _state(weights, base.tail, base.length + 1)
        add_weights(weights, self._contribution_of(base.tail), -1)
        tail = (new_hash or b"") if base.tail == parent else self._next_towards(base.tail, parent)
        return _state(weights, tail, base.length)

    def _from_scratch(self, share_hash: bytes) -> WindowState:
        self.computed += 1
        weights: dict[bytes, int] = {}
        current: bytes | None = share_hash
        tail = share_hash
        length = 0
        while current is not None and length < self.size:
            add_weights(weights, self._contribution_of(current))
            tail = current
            length += 1
            current = self._parent_of(current)
        return WindowState(weights, tail, length)

    def _remember(self, share_hash: bytes, state: WindowState) -> None:
        self._states[share_hash] = state
        if len(self._states) > _CACHE_SIZE:
            self._states.popitem(last=False)

    def forget(self, hashes: list[bytes]) -> None:
        """Drop the states of pruned shares."""
        for share_hash in hashes:
            self._states.pop(share_hash, None)

    def remember(self, share_hash: bytes, state: WindowState) -> None:
        if state.tail == b"":
            state = _state(state.weights, share_hash, state.length)
        self._remember(share_hash, state)
