"""The devchain's block tree, active chain and UTXO set. Pure: no storage, no clock.

Blocks that extend a known block are kept even off the active chain (side branches); the chain with
the most work is active and a heavier side branch triggers a reorg (UTXO changes are undone from
per-block undo data). As in Core, submitting a block that ends up on a side branch reports
"inconclusive", and a block that fails while being connected is dropped with its descendants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from p2pool.devchain.params import DevchainParams, genesis_block
from p2pool.devchain.validation import (
    BlockContext,
    BlockInvalid,
    Coin,
    OutPoint,
    check_block,
    check_contextual,
    connect_transactions,
    is_unspendable,
)
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.header import BlockHeader
from sharechain.bitcoin.target import bits_to_target, work_from_target

_MAX_INVALID_REMEMBERED = 10_000
# Failures Core does not remember as invalid: the hash may not identify the content (mutation), or the
# block may become valid later (time-too-new).
_NOT_REMEMBERED = {"bad-txnmrklroot", "bad-txns-duplicate", "bad-witness-nonce-size", "bad-witness-merkle-match",
                   "unexpected-witness", "high-hash", "time-too-new"}

Status = Literal["connected", "side", "duplicate", "invalid"]


@dataclass(frozen=True, slots=True)
class BlockIndex:
    hash: bytes
    header: BlockHeader
    height: int
    chainwork: int


@dataclass(frozen=True)
class AddResult:
    """What ``add_block`` did: ``new_tip`` when the active tip moved, the blocks it dropped in a reorg."""

    status: Status
    reason: str | None = None
    new_tip: bytes | None = None
    disconnected: tuple[bytes, ...] = ()
    invalidated: tuple[BlockIndex, ...] = ()

    def bip22(self) -> str | None:
        """The ``submitblock`` answer Core would give."""
        return {"connected": None, "side": "inconclusive", "duplicate": "duplicate"}.get(self.status, self.reason)


@dataclass
class ChainState:
    params: DevchainParams
    _index: dict[bytes, BlockIndex] = field(default_factory=dict)
    _blocks: dict[bytes, Block] = field(default_factory=dict)
    _active: list[bytes] = field(default_factory=list)
    _utxo: dict[OutPoint, Coin] = field(default_factory=dict)
    _undo: dict[bytes, dict[OutPoint, Coin]] = field(default_factory=dict)
    _invalid: dict[bytes, None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        genesis = genesis_block(self.params)
        ghash = genesis.header.hash()
        self._index[ghash] = BlockIndex(ghash, genesis.header, 0, self.params.block_work)
        self._blocks[ghash] = genesis
        self._active.append(ghash)
        coinbase = genesis.transactions[0]
        for n, txout in enumerate(coinbase.outputs):
            self._utxo[(coinbase.txid(), n)] = Coin(txout, 0, coinbase=False)

    # Queries
    @property
    def genesis_hash(self) -> bytes:
        return self._active[0]

    @property
    def tip(self) -> BlockIndex:
        return self._index[self._active[-1]]

    @property
    def height(self) -> int:
        return len(self._active) - 1

    @property
    def utxo(self) -> Mapping[OutPoint, Coin]:
        return self._utxo

    def get(self, block_hash: bytes) -> BlockIndex | None:
        return self._index.get(block_hash)

    def block(self, block_hash: bytes) -> Block | None:
        return self._blocks.get(block_hash)

    def hash_at(self, height: int) -> bytes | None:
        return self._active[height] if 0 <= height < len(self._active) else None

    def is_active(self, block_hash: bytes) -> bool:
        index = self._index.get(block_hash)
        return index is not None and self.hash_at(index.height) == block_hash

    def median_time_past(self, block_hash: bytes) -> int:
        """Median timestamp of the block and its ancestors, up to ``median_time_span`` of them."""
        times: list[int] = []
        index: BlockIndex | None = self._index[block_hash]
        while index is not None and len(times) < self.params.median_time_span:
            times.append(index.header.timestamp)
            index = self._index.get(index.header.prev_hash)
        return sorted(times)[len(times) // 2]

    def next_context(self, now: int | None) -> BlockContext:
        """The context a block on the current tip is checked in."""
        tip = self.tip
        return BlockContext(tip.height + 1, tip.hash, self.median_time_past(tip.hash), now)

    # Changes
    def add_block(self, block: Block, now: int | None) -> AddResult:
        """Validate and store a block; ``now`` None skips the future-time check (reloading stored blocks)."""
        block_hash = block.header.hash()
        if block_hash in self._index:
            return AddResult("duplicate")
        if block_hash in self._invalid:
            return AddResult("invalid", "duplicate-invalid")
        try:
            check_block(block, self.params)
        except BlockInvalid as exc:
            return AddResult("invalid", exc.reason)
        prev = self._index.get(block.header.prev_hash)
        if prev is None:
            reason = "bad-prevblk" if block.header.prev_hash in self._invalid else "prev-blk-not-found"
            return AddResult("invalid", reason)
        ctx = BlockContext(prev.height + 1, prev.hash, self.median_time_past(prev.hash), now)
        try:
            check_contextual(block, ctx, self.params)
        except BlockInvalid as exc:
            if exc.reason not in _NOT_REMEMBERED:
                self._remember_invalid(block_hash)
            return AddResult("invalid", exc.reason)
        work = work_from_target(bits_to_target(block.header.bits))
        index = BlockIndex(block_hash, block.header, ctx.height, prev.chainwork + work)
        self._index[block_hash] = index
        self._blocks[block_hash] = block
        if index.chainwork <= self.tip.chainwork:
            return AddResult("side")
        return self._activate(index)

    def _activate(self, target: BlockIndex) -> AddResult:
        path = []
        index = target
        while not self.is_active(index.hash):
            path.append(index)
            index = self._index[index.header.prev_hash]
        fork_height = index.height
        disconnected = []
        while self.height > fork_height:
            disconnected.append(self._disconnect_tip())
        connected: list[bytes] = []
        for step in reversed(path):
            try:
                self._connect(step)
            except BlockInvalid as exc:
                invalidated = self._drop_with_descendants(step.hash)
                for _ in connected:
                    self._disconnect_tip()
                for block_hash in reversed(disconnected):
                    self._connect(self._index[block_hash])
                return AddResult("invalid", exc.reason, invalidated=invalidated)
            connected.append(step.hash)
        return AddResult("connected", new_tip=target.hash, disconnected=tuple(disconnected))

    def _connect(self, index: BlockIndex) -> None:
        result = connect_transactions(self._blocks[index.hash], index.height, self._utxo, self.params)
        for outpoint in result.spent:
            del self._utxo[outpoint]
        self._utxo.update(result.created)
        self._undo[index.hash] = result.spent
        self._active.append(index.hash)

    def _disconnect_tip(self) -> bytes:
        block_hash = self._active.pop()
        for tx in self._blocks[block_hash].transactions:
            txid = tx.txid()
            for n, txout in enumerate(tx.outputs):
                if not is_unspendable(txout.script_pubkey):
                    self._utxo.pop((txid, n), None)
        self._utxo.update(self._undo.pop(block_hash))
        return block_hash

    def _drop_with_descendants(self, block_hash: bytes) -> tuple[BlockIndex, ...]:
        dropped = [self._index[block_hash]]
        hashes = {block_hash}
        for index in sorted(self._index.values(), key=lambda i: i.height):
            if index.header.prev_hash in hashes:
                dropped.append(index)
                hashes.add(index.hash)
        for index in dropped:
            del self._index[index.hash]
            del self._blocks[index.hash]
            self._remember_invalid(index.hash)
        return tuple(dropped)

    def _remember_invalid(self, block_hash: bytes) -> None:
        self._invalid[block_hash] = None
        if len(self._invalid) > _MAX_INVALID_REMEMBERED:
            del self._invalid[next(iter(self._invalid))]
