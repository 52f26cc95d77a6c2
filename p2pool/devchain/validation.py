"""Block validation rules of the devchain, with Bitcoin Core's reject strings. Pure functions.

The checks run in Core's order: context-free (``check_block``), then against the parent
(``check_contextual``), then against the UTXO set (``connect_transactions``). Scripts are not executed:
devchain outputs are spent by anyone who names them. Relative locktimes (BIP68) and sigop limits are
not enforced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from p2pool.devchain.params import MAX_MONEY, DevchainParams
from sharechain.bitcoin.block import Block, find_witness_commitment, witness_root
from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.merkle import merkle_root
from sharechain.bitcoin.script import bip34_height_push
from sharechain.bitcoin.serialize import ser_varint
from sharechain.bitcoin.target import bits_to_target
from sharechain.bitcoin.transaction import Transaction, TxOut

OutPoint = tuple[bytes, int]
_LOCKTIME_THRESHOLD = 500_000_000
_SEQUENCE_FINAL = 0xFFFFFFFF


class BlockInvalid(Exception):
    """A block breaks a rule; ``reason`` is Bitcoin Core's BIP22 reject string."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Coin:
    """An unspent output with the height that created it."""

    output: TxOut
    height: int
    coinbase: bool


@dataclass(frozen=True)
class BlockContext:
    """What a block is checked against: its parent's position and the local clock (None: don't check)."""

    height: int
    prev_hash: bytes
    median_time_past: int
    now: int | None


@dataclass(frozen=True)
class Connected:
    """Effect of a block on the UTXO set: coins it spends (for undo), coins it creates, its fees."""

    spent: dict[OutPoint, Coin]
    created: dict[OutPoint, Coin]
    fees: int


def tx_weight(tx: Transaction) -> int:
    return len(tx.serialize(with_witness=False)) * 3 + len(tx.serialize(with_witness=True))


def block_weight(block: Block) -> int:
    overhead = 80 + len(ser_varint(len(block.transactions)))
    return overhead * 4 + sum(tx_weight(tx) for tx in block.transactions)


def is_unspendable(script: bytes) -> bool:
    return script[:1] == b"\x6a"


def check_transaction(tx: Transaction) -> None:
    """Core's CheckTransaction: structure only, no context."""
    if not tx.inputs:
        raise BlockInvalid("bad-txns-vin-empty")
    if not tx.outputs:
        raise BlockInvalid("bad-txns-vout-empty")
    total = 0
    for txout in tx.outputs:
        if txout.value > MAX_MONEY:
            raise BlockInvalid("bad-txns-vout-toolarge")
        total += txout.value
        if total > MAX_MONEY:
            raise BlockInvalid("bad-txns-txouttotal-toolarge")
    outpoints = {(txin.prev_txid, txin.prev_index) for txin in tx.inputs}
    if len(outpoints) != len(tx.inputs):
        raise BlockInvalid("bad-txns-inputs-duplicate")
    if tx.is_coinbase():
        if not 2 <= len(tx.inputs[0].script_sig) <= 100:
            raise BlockInvalid("bad-cb-length")
    elif any(txin.is_coinbase_input() for txin in tx.inputs):
        raise BlockInvalid("bad-txns-prevout-null")


def check_block(block: Block, params: DevchainParams) -> None:
    """Core's CheckBlock: proof of work against the header's bits, merkle root, coinbase position, transactions."""
    header = block.header
    try:
        target = bits_to_target(header.bits)
    except ValueError:
        raise BlockInvalid("high-hash", "bits do not decode") from None
    if target == 0 or hash_to_int(header.hash()) > target:
        raise BlockInvalid("high-hash", "proof of work failed")
    txs = block.transactions
    if not txs:
        raise BlockInvalid("bad-blk-length", "no transactions")
    txids = [tx.txid() for tx in txs]
    if merkle_root(txids) != header.merkle_root:
        raise BlockInvalid("bad-txnmrklroot", "hashMerkleRoot mismatch")
    if len(set(txids)) != len(txids):
        raise BlockInvalid("bad-txns-duplicate", "duplicate transaction")
    if sum(len(tx.serialize(with_witness=False)) for tx in txs) * 4 > params.max_block_weight:
        raise BlockInvalid("bad-blk-length", "size limits failed")
    if not txs[0].is_coinbase():
        raise BlockInvalid("bad-cb-missing", "first tx is not coinbase")
    if any(tx.is_coinbase() for tx in txs[1:]):
        raise BlockInvalid("bad-cb-multiple", "more than one coinbase")
    for tx in txs:
        check_transaction(tx)


def is_final(tx: Transaction, height: int, median_time_past: int) -> bool:
    if tx.locktime == 0:
        return True
    limit = height if tx.locktime < _LOCKTIME_THRESHOLD else median_time_past
    if tx.locktime < limit:
        return True
    return all(txin.sequence == _SEQUENCE_FINAL for txin in tx.inputs)


def check_contextual(block: Block, ctx: BlockContext, params: DevchainParams) -> None:
    """Core's ContextualCheckBlockHeader and ContextualCheckBlock against the parent in ``ctx``."""
    header = block.header
    if header.bits != params.bits:
        raise BlockInvalid("bad-diffbits", f"incorrect proof of work: devchain bits are {params.bits:08x}")
    if header.timestamp <= ctx.median_time_past:
        raise BlockInvalid("time-too-old", "block's timestamp is too early")
    if ctx.now is not None and header.timestamp > ctx.now + params.max_future_seconds:
        raise BlockInvalid("time-too-new", "block timestamp too far in the future")
    if header.version < 4:
        raise BlockInvalid(f"bad-version(0x{header.version & 0xFFFFFFFF:08x})", "rejected nVersion block")
    for tx in block.transactions:
        if not is_final(tx, ctx.height, ctx.median_time_past):
            raise BlockInvalid("bad-txns-nonfinal", "non-final transaction")
    script_sig = block.transactions[0].inputs[0].script_sig
    if not script_sig.startswith(bip34_height_push(ctx.height)):
        raise BlockInvalid("bad-cb-height", "block height mismatch in coinbase")
    _check_witness(block)
    if block_weight(block) > params.max_block_weight:
        raise BlockInvalid("bad-blk-weight", "weight limit failed")


def _check_witness(block: Block) -> None:
    coinbase = block.transactions[0]
    commitment = find_witness_commitment(coinbase)
    if commitment is not None:
        witness = coinbase.inputs[0].witness
        if len(witness) != 1 or len(witness[0]) != 32:
            raise BlockInvalid("bad-witness-nonce-size", "invalid witness reserved value size")
        if sha256d(witness_root(block.transactions) + witness[0]) != commitment:
            raise BlockInvalid("bad-witness-merkle-match", "witness merkle commitment mismatch")
    elif any(tx.has_witness for tx in block.transactions):
        raise BlockInvalid("unexpected-witness", "unexpected witness data found")


def connect_transactions(block: Block, height: int, utxo: Mapping[OutPoint, Coin],
                         params: DevchainParams) -> Connected:
    """Core's ConnectBlock money rules: inputs exist and are mature, outputs <= inputs, coinbase <= subsidy + fees.

    Transactions may spend outputs created earlier in the same block. ``utxo`` is not modified.
    """
    spent: dict[OutPoint, Coin] = {}
    created: dict[OutPoint, Coin] = {}
    fees = 0
    for tx in block.transactions[1:]:
        value_in = 0
        for txin in tx.inputs:
            outpoint = (txin.prev_txid, txin.prev_index)
            coin = created.pop(outpoint, None)
            if coin is None:
                coin = utxo.get(outpoint) if outpoint not in spent else None
                if coin is None:
                    raise BlockInvalid("bad-txns-inputs-missingorspent", "inputs missing/spent")
                spent[outpoint] = coin
            if coin.coinbase and height - coin.height < params.coinbase_maturity:
                raise BlockInvalid("bad-txns-premature-spend-of-coinbase", "tried to spend coinbase before maturity")
            value_in += coin.output.value
            if value_in > MAX_MONEY:
                raise BlockInvalid("bad-txns-inputvalues-outofrange")
        if value_in < tx.total_out():
            raise BlockInvalid("bad-txns-in-belowout", f"value in ({value_in}) < value out ({tx.total_out()})")
        fees += value_in - tx.total_out()
        _add_outputs(created, tx, height, coinbase=False)
    coinbase = block.transactions[0]
    limit = params.subsidy(height) + fees
    if coinbase.total_out() > limit:
        raise BlockInvalid("bad-cb-amount", f"coinbase pays too much (actual={coinbase.total_out()} vs limit={limit})")
    _add_outputs(created, coinbase, height, coinbase=True)
    return Connected(spent, created, fees)


def _add_outputs(created: dict[OutPoint, Coin], tx: Transaction, height: int, coinbase: bool) -> None:
    txid = tx.txid()
    for index, txout in enumerate(tx.outputs):
        if not is_unspendable(txout.script_pubkey):
            created[(txid, index)] = Coin(txout, height, coinbase)


def validate_block(block: Block, ctx: BlockContext, utxo: Mapping[OutPoint, Coin],
                   params: DevchainParams) -> Connected:
    """Every rule, in Core's order, for a block that would extend the chain whose UTXO set is ``utxo``."""
    if block.header.prev_hash != ctx.prev_hash:
        raise BlockInvalid("inconclusive-not-best-prevblk")
    check_block(block, params)
    check_contextual(block, ctx, params)
    return connect_transactions(block, ctx.height, utxo, params)
