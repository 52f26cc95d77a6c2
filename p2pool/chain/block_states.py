"""Where the blocks this node found stand in the Bitcoin chain: confirmed to some depth, or orphaned.

Asked of the chain backend (``getblockheader``: confirmations, -1 off the best chain) by a task of
its own, for the most recent blocks, every ``interval`` seconds and at once when a block is found;
the answers are cached, so the API never waits for bitcoind. A block buried ``FINAL_DEPTH`` deep is
not asked about again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import trio

from p2pool.chain.backend import ChainError

log = logging.getLogger("otedama.blocks")
FINAL_DEPTH = 100  # a coinbase can be spent after 100 confirmations: nothing changes after that
CHECKED_BLOCKS = 50


@dataclass(frozen=True)
class BlockState:
    state: str  # "confirmed", "orphaned" or "unknown" (not asked yet, or the backend did not answer)
    confirmations: int  # 0 unless confirmed
    checked: float  # when it was asked (epoch seconds); 0: never

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state, "confirmations": self.confirmations, "checked": self.checked or None}


UNKNOWN = BlockState("unknown", 0, 0.0)


class BlockStates:
    def __init__(self, header: Callable[[str], Awaitable[dict]], blocks: Callable[[], Sequence[str]],
                 clock: Callable[[], float], interval: float = 30.0) -> None:
        self._header = header  # getblockheader(hash)
        self._blocks = blocks  # the found blocks' hashes, oldest first
        self._clock = clock
        self.interval = interval
        self._states: dict[str, BlockState] = {}
        self._wake = trio.Event()

    def get(self, block_hash: str) -> BlockState:
        return self._states.get(block_hash, UNKNOWN)

    def refresh(self) -> None:
        """Ask again now (a block was found, or the Bitcoin tip moved)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self.check()
            with trio.move_on_after(self.interval):
                await self._wake.wait()
            self._wake = trio.Event()

    async def check(self) -> None:
        for block_hash in list(self._blocks())[-CHECKED_BLOCKS:]:
            known = self._states.get(block_hash)
            if known is not None and known.confirmations >= FINAL_DEPTH:
                continue
            try:
                header = await self._header(block_hash)
            except ChainError as exc:
                log.debug("state of block %s unknown: %s", block_hash, exc)
                continue
            confirmations = int(header.get("confirmations", 0))
            state = BlockState("confirmed", confirmations, self._clock()) if confirmations > 0 else \
                BlockState("orphaned", 0, self._clock())
            if known is not None and known.state != state.state:
                log.warning("found block %s is now %s", block_hash, state.state)
            self._states[block_hash] = state
