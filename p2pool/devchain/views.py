"""JSON views of devchain state in the shapes bitcoind's RPC returns them. Pure."""

from __future__ import annotations

from typing import Any

from p2pool.devchain.chain import BlockIndex, ChainState
from p2pool.devchain.mempool import MempoolTx
from p2pool.devchain.validation import block_weight, tx_weight
from sharechain.bitcoin.address import AddressFormat, script_to_address
from sharechain.bitcoin.block import Block, witness_commitment_script
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.bitcoin.merkle import merkle_root
from sharechain.bitcoin.serialize import ser_varint
from sharechain.bitcoin.target import DIFF1_TARGET, bits_to_target
from sharechain.bitcoin.transaction import Transaction

BLOCK_VERSION = 0x20000000


def difficulty(bits: int) -> float:
    return DIFF1_TARGET / bits_to_target(bits)


def template_json(state: ChainState, mempool: list[MempoolTx], now: int, longpollid: str) -> dict[str, Any]:
    """A ``getblocktemplate`` result for a block on the current tip, as Core writes it."""
    ctx = state.next_context(now)
    params = state.params
    mintime = ctx.median_time_past + 1
    entries = [{
        "data": m.tx.serialize().hex(),
        "txid": hash_to_hex(m.tx.txid()),
        "hash": hash_to_hex(m.tx.wtxid()),
        "depends": list(m.depends),
        "fee": m.fee,
        "sigops": 0,
        "weight": tx_weight(m.tx),
    } for m in mempool]
    commitment = witness_commitment_script(merkle_root([b"\x00" * 32] + [m.tx.wtxid() for m in mempool]))
    return {
        "capabilities": ["proposal"],
        "version": BLOCK_VERSION,
        "rules": ["csv", "!segwit", "taproot"],
        "vbavailable": {},
        "vbrequired": 0,
        "previousblockhash": hash_to_hex(ctx.prev_hash),
        "transactions": entries,
        "coinbaseaux": {},
        "coinbasevalue": params.subsidy(ctx.height) + sum(m.fee for m in mempool),
        "longpollid": longpollid,
        "target": f"{params.target:064x}",
        "mintime": mintime,
        "mutable": ["time", "transactions", "prevblock"],
        "noncerange": "00000000ffffffff",
        "sigoplimit": 80000,
        "sizelimit": params.max_block_weight,
        "weightlimit": params.max_block_weight,
        "curtime": max(now, mintime),
        "bits": f"{params.bits:08x}",
        "height": ctx.height,
        "default_witness_commitment": commitment.hex(),
    }


def tx_json(tx: Transaction, fmt: AddressFormat) -> dict[str, Any]:
    """``getblock`` verbosity 2 / ``decoderawtransaction`` form of a transaction."""
    raw = tx.serialize()
    weight = tx_weight(tx)
    vin: list[dict[str, Any]] = []
    for txin in tx.inputs:
        entry: dict[str, Any]
        if txin.is_coinbase_input():
            entry = {"coinbase": txin.script_sig.hex()}
        else:
            entry = {"txid": hash_to_hex(txin.prev_txid), "vout": txin.prev_index,
                     "scriptSig": {"hex": txin.script_sig.hex()}}
        if txin.witness:
            entry["txinwitness"] = [item.hex() for item in txin.witness]
        entry["sequence"] = txin.sequence
        vin.append(entry)
    vout = []
    for n, txout in enumerate(tx.outputs):
        script: dict[str, Any] = {"hex": txout.script_pubkey.hex()}
        address = script_to_address(txout.script_pubkey, fmt)
        if not address.startswith("script:"):
            script["address"] = address
        vout.append({"value": txout.value / 100_000_000, "value_sat": txout.value, "n": n, "scriptPubKey": script})
    return {
        "txid": hash_to_hex(tx.txid()), "hash": hash_to_hex(tx.wtxid()), "version": tx.version,
        "size": len(raw), "vsize": (weight + 3) // 4, "weight": weight, "locktime": tx.locktime,
        "vin": vin, "vout": vout, "hex": raw.hex(),
    }


def header_json(state: ChainState, index: BlockIndex) -> dict[str, Any]:
    """``getblockheader`` verbose form."""
    header = index.header
    active = state.is_active(index.hash)
    out: dict[str, Any] = {
        "hash": hash_to_hex(index.hash),
        "confirmations": state.height - index.height + 1 if active else -1,
        "height": index.height,
        "version": header.version,
        "versionHex": f"{header.version & 0xFFFFFFFF:08x}",
        "merkleroot": hash_to_hex(header.merkle_root),
        "time": header.timestamp,
        "mediantime": state.median_time_past(index.hash),
        "nonce": header.nonce,
        "bits": f"{header.bits:08x}",
        "target": f"{bits_to_target(header.bits):064x}",
        "difficulty": difficulty(header.bits),
        "chainwork": f"{index.chainwork:064x}",
    }
    if index.height > 0:
        out["previousblockhash"] = hash_to_hex(header.prev_hash)
    following = state.hash_at(index.height + 1) if active else None
    if following is not None:
        out["nextblockhash"] = hash_to_hex(following)
    return out


def block_json(state: ChainState, index: BlockIndex, block: Block, verbosity: int, fmt: AddressFormat) -> Any:
    """``getblock`` at verbosity 1 (txids) or 2 (decoded transactions)."""
    out = header_json(state, index)
    out["nTx"] = len(block.transactions)
    overhead = 80 + len(ser_varint(len(block.transactions)))
    out["strippedsize"] = overhead + sum(len(tx.serialize(with_witness=False)) for tx in block.transactions)
    out["size"] = len(block.serialize())
    out["weight"] = block_weight(block)
    if verbosity >= 2:
        out["tx"] = [tx_json(tx, fmt) for tx in block.transactions]
    else:
        out["tx"] = [hash_to_hex(tx.txid()) for tx in block.transactions]
    return out
