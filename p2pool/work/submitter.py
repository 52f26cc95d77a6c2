"""Block submission in a task of its own: a solution that meets the block target is queued here and
delivered to the chain backend with retries, so the miner's connection never waits for bitcoind."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import trio

from p2pool.chain.backend import ChainBackend, ChainUnavailable, SubmitResult
from p2pool.events import BlockFound, FoundBlock
from p2pool.stratum.job import Solution
from p2pool.work.found_blocks import FoundBlocks
from p2pool.work.job_builder import JobContext, block_from_solution
from sharechain.bitcoin.address import AddressFormat, script_to_address
from sharechain.bitcoin.hashing import hash_to_hex, sha256d

log = logging.getLogger("otedama.blocks")


@dataclass(frozen=True)
class SubmitterConfig:
    attempts: int = 4
    first_retry: float = 0.5  # doubled after each failed attempt


class BlockSubmitter:
    """``submit`` never blocks; ``run`` (in the node's nursery) delivers, records and announces."""

    def __init__(self, backend: ChainBackend, found: FoundBlocks, address_format: AddressFormat,
                 publish: Callable[[object], None], clock: Callable[[], float],
                 config: SubmitterConfig = SubmitterConfig()) -> None:
        self._backend = backend
        self._found = found
        self._address_format = address_format
        self._publish = publish
        self._clock = clock
        self.config = config
        # Unbounded on purpose: each item carries a block's proof of work, so nobody can flood it.
        self._send, self._receive = trio.open_memory_channel[tuple[JobContext, Solution]](math.inf)

    def submit(self, context: JobContext, solution: Solution) -> None:
        self._send.send_nowait((context, solution))

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            async for context, solution in self._receive:
                # Each block in its own task: one stuck in retries does not hold back the next.
                nursery.start_soon(self._deliver, context, solution)

    async def _deliver(self, context: JobContext, solution: Solution) -> None:
        block = block_from_solution(context, solution)
        block_hash = hash_to_hex(sha256d(solution.header))
        outcome = await self._submit_with_retries(block, block_hash)
        if outcome is None:
            return
        result, retried = outcome
        # A retry of a block that did arrive the first time is answered "duplicate".
        if not result.accepted and not (retried and result.reason == "duplicate"):
            log.warning("block %s at height %d refused by the chain backend: %s", block_hash,
                        context.template.height, result.reason)
            return
        found = FoundBlock(
            hash=block_hash, height=context.template.height, time=int(self._clock()),
            share=hash_to_hex(solution.hash), share_info=context.info.serialize().hex(), worker=solution.worker,
            value=context.template.coinbase_value,
            payouts=tuple((script_to_address(s, self._address_format), v) for s, v in context.payouts),
        )
        self._found.record(found)
        log.info("BLOCK FOUND %s at height %d paying %d outputs", block_hash, found.height, len(found.payouts))
        self._publish(BlockFound(found))

    async def _submit_with_retries(self, block: bytes, block_hash: str) -> tuple[SubmitResult, bool] | None:
        attempts = self.config.attempts
        for attempt in range(attempts):
            try:
                return await self._backend.submit_block(block), attempt > 0
            except ChainUnavailable as exc:
                log.error("block %s found but not delivered (attempt %d of %d): %s", block_hash, attempt + 1,
                          attempts, exc)
                if attempt + 1 < attempts:
                    await trio.sleep(self.config.first_retry * 2**attempt)
        return None
