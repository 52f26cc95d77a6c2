"""The running devchain: chain state, its LevelDB store, the generated mempool and tip notifications.

This is the thin stateful layer between the pure chain and the RPC server. Time comes in as an
argument (the RPC layer passes the wall clock); waiting for a new tip uses trio.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import trio

from p2pool.devchain.chain import AddResult, ChainState
from p2pool.devchain.mempool import MempoolTx, generate_mempool
from p2pool.devchain.params import DEFAULT_BITS, DevchainParams
from p2pool.devchain.store import BlockStore
from p2pool.devchain.validation import BlockInvalid, validate_block
from p2pool.devchain.views import template_json
from sharechain.bitcoin.address import AddressFormat
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.params import REGTEST

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevchainConfig:
    """How to run a devchain. ``port`` 0 picks a free port; credentials None means no auth."""

    datadir: Path
    host: str = "127.0.0.1"
    port: int = 18555
    bits: int = DEFAULT_BITS
    rpc_user: str | None = None
    rpc_password: str | None = None
    # Write ``<datadir>/.cookie`` ("__cookie__:<random>") and require it, as bitcoind does without rpcpassword.
    cookie: bool = False
    longpoll_timeout: float = 60.0
    mempool: bool = True
    chain_name: str = "devchain"
    address_format: AddressFormat = field(default=REGTEST.address_format)

    @property
    def params(self) -> DevchainParams:
        return DevchainParams(bits=self.bits)

    @property
    def cookie_path(self) -> Path:
        return self.datadir / ".cookie"


class Devchain:
    """A devchain opened on its datadir: the chain is rebuilt from the stored blocks."""

    def __init__(self, config: DevchainConfig) -> None:
        self.config = config
        self.params = config.params
        self.state = ChainState(self.params)
        self.store = BlockStore(config.datadir / "blocks", self.state.genesis_hash)
        self._tip_changed = trio.Event()
        self._mempool: tuple[bytes, list[MempoolTx]] | None = None
        self.long_polls_waiting = 0
        try:
            self._reload()
        except BaseException:
            self.store.close()
            raise

    def _reload(self) -> None:
        count = 0
        for height, block_hash, raw in self.store.blocks():
            result = self.state.add_block(Block.parse(raw), now=None)
            if result.status not in ("connected", "side"):
                log.warning("devchain: dropping stored block %s: %s", hash_to_hex(block_hash), result.reason)
                self.store.delete(height, block_hash)
            self._forget_invalidated(result)
            count += 1
        log.info("devchain: loaded %d blocks from %s, tip %d %s", count, self.store.path, self.state.height,
                 hash_to_hex(self.state.tip.hash))

    def close(self) -> None:
        self.store.close()

    @property
    def longpollid(self) -> str:
        return hash_to_hex(self.state.tip.hash) + str(self.state.height)

    def mempool(self) -> list[MempoolTx]:
        """The generated transactions for the next block (cached per tip)."""
        tip = self.state.tip.hash
        if not self.config.mempool:
            return []
        if self._mempool is None or self._mempool[0] != tip:
            self._mempool = (tip, generate_mempool(self.state.utxo, self.state.height + 1, tip, self.params))
        return self._mempool[1]

    def template(self, now: int) -> dict[str, object]:
        return template_json(self.state, self.mempool(), now, self.longpollid)

    def submit(self, block: Block, now: int) -> str | None:
        """Validate, store and maybe connect a block; the BIP22 answer (None = accepted)."""
        block_hash = block.header.hash()
        result = self.state.add_block(block, now)
        if result.status in ("connected", "side"):
            index = self.state.get(block_hash)
            assert index is not None
            self.store.put(index.height, block_hash, block.serialize())
        self._forget_invalidated(result)
        if result.new_tip is not None:
            log.info("devchain: block %d %s accepted (%d txs)%s", self.state.height, hash_to_hex(block_hash),
                     len(block.transactions), f", reorg of {len(result.disconnected)}" if result.disconnected else "")
            self._tip_changed.set()
            self._tip_changed = trio.Event()
        elif result.status == "invalid":
            log.warning("devchain: block %s rejected: %s", hash_to_hex(block_hash), result.reason)
        return result.bip22()

    def _forget_invalidated(self, result: AddResult) -> None:
        for index in result.invalidated:
            self.store.delete(index.height, index.hash)

    def propose(self, block: Block, now: int) -> str | None:
        """Getblocktemplate proposal mode: would this block be accepted on the current tip?"""
        if self.state.get(block.header.hash()) is not None:
            return "duplicate"
        try:
            validate_block(block, self.state.next_context(now), self.state.utxo, self.params)
        except BlockInvalid as exc:
            return exc.reason
        return None

    async def wait_for_new_tip(self, longpollid: str, timeout: float) -> None:
        """Return when the tip differs from the one ``longpollid`` names, or after ``timeout`` seconds."""
        if longpollid != self.longpollid:
            return
        self.long_polls_waiting += 1
        try:
            with trio.move_on_after(timeout):
                await self._tip_changed.wait()
        finally:
            self.long_polls_waiting -= 1
