"""Generates the devchain's mempool: real transactions spending anyone-can-spend outputs. Pure.

Each template gets up to four transactions, so merkle branches and the witness commitment are real:
a segwit spend of a P2WSH(OP_TRUE) output, a legacy spend of an OP_TRUE output, a legacy child of the
first (unconfirmed parent), and a segwit child of the second that also consolidates two confirmed
coins (which keeps the number of funding coins from growing). The set is a function of the UTXO set
and the tip, so a template is stable until the tip changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from p2pool.devchain.params import OP_TRUE_SCRIPT, P2WSH_OP_TRUE, DevchainParams
from p2pool.devchain.validation import Coin, OutPoint
from sharechain.bitcoin.transaction import Transaction, TxIn, TxOut

MIN_SPLIT_VALUE = 200_000
_FEE_RATE = 5  # satoshis per byte, roughly


@dataclass(frozen=True)
class MempoolTx:
    tx: Transaction
    fee: int
    depends: tuple[int, ...] = ()  # 1-based indexes of in-mempool parents, as getblocktemplate lists them


def _spend(outpoint: OutPoint, script: bytes) -> TxIn:
    """An input spending an anyone-can-spend output: OP_TRUE needs nothing, P2WSH(OP_TRUE) its witness script."""
    witness = (OP_TRUE_SCRIPT,) if script == P2WSH_OP_TRUE else ()
    return TxIn(outpoint[0], outpoint[1], b"", 0xFFFFFFFF, witness)


def _outputs(value: int, first: bytes, second: bytes | None) -> tuple[TxOut, ...]:
    if second is not None and value >= MIN_SPLIT_VALUE:
        half = value // 2
        return (TxOut(half, first), TxOut(value - half, second))
    return (TxOut(value, first),)


def _fee(n_inputs: int, n_outputs: int, seed: int) -> int:
    return _FEE_RATE * (10 + 68 * n_inputs + 43 * n_outputs) + seed % 997


def _funding(utxo: Mapping[OutPoint, Coin], height: int, params: DevchainParams) -> list[tuple[OutPoint, Coin]]:
    coins = []
    for outpoint, coin in utxo.items():
        script = coin.output.script_pubkey
        if script not in (OP_TRUE_SCRIPT, P2WSH_OP_TRUE):
            continue
        if coin.coinbase and height - coin.height < params.coinbase_maturity:
            continue
        if coin.output.value < 20_000:
            continue
        coins.append((outpoint, coin))
    coins.sort(key=lambda item: (-item[1].output.value, item[0]))
    return coins


def generate_mempool(utxo: Mapping[OutPoint, Coin], height: int, seed: bytes,
                     params: DevchainParams) -> list[MempoolTx]:
    """Transactions valid in a block at ``height`` on top of ``utxo``, parents before children."""
    coins = _funding(utxo, height, params)
    witness_coins = [item for item in coins if item[1].output.script_pubkey == P2WSH_OP_TRUE]
    legacy_coins = [item for item in coins if item[1].output.script_pubkey == OP_TRUE_SCRIPT]
    rand = int.from_bytes(seed[:8], "little")
    out: list[MempoolTx] = []
    used: set[OutPoint] = set()

    def add(inputs: list[tuple[OutPoint, int, bytes]], first: bytes, second: bytes | None,
            depends: tuple[int, ...]) -> None:
        value = sum(v for _, v, _ in inputs)
        fee = _fee(len(inputs), 2 if second else 1, rand + len(out))
        outputs = _outputs(value - fee, first, second)
        tx = Transaction(2, tuple(_spend(op, script) for op, _, script in inputs), outputs, 0)
        out.append(MempoolTx(tx, fee, depends))
        used.update(op for op, _, _ in inputs)

    if witness_coins:
        op, coin = witness_coins[0]
        add([(op, coin.output.value, P2WSH_OP_TRUE)], P2WSH_OP_TRUE, OP_TRUE_SCRIPT, ())
        parent = out[-1].tx
        last = len(parent.outputs) - 1
        child_in = ((parent.txid(), last), parent.outputs[last].value, parent.outputs[last].script_pubkey)
        if child_in[1] > 20_000:
            add([child_in], OP_TRUE_SCRIPT, None, (len(out),))
    if legacy_coins:
        op, coin = legacy_coins[0]
        add([(op, coin.output.value, OP_TRUE_SCRIPT)], OP_TRUE_SCRIPT, P2WSH_OP_TRUE, ())
        parent = out[-1].tx
        last = len(parent.outputs) - 1
        parent_out = parent.outputs[last]
        inputs = [((parent.txid(), last), parent_out.value, parent_out.script_pubkey)]
        smallest = [item for item in reversed(coins) if item[0] not in used][:2]
        inputs += [(op, coin.output.value, coin.output.script_pubkey) for op, coin in smallest]
        if sum(v for _, v, _ in inputs) > 20_000:
            add(inputs, P2WSH_OP_TRUE, None, (len(out),))
    return out
