"""The coinbase layout every share must have: payouts, share commitment, witness commitment."""

from __future__ import annotations

from sharechain.bitcoin.block import WITNESS_RESERVED_VALUE
from sharechain.bitcoin.transaction import COINBASE_PREV_INDEX, NULL_HASH, Transaction, TxIn, TxOut
from sharechain.params import NetworkParams
from sharechain.pplns import Payout
from sharechain.share import ShareInfo, share_commitment_script


def coinbase_outputs(params: NetworkParams, info: ShareInfo, payouts: list[Payout],
                     witness_commitment: bytes | None) -> tuple[TxOut, ...]:
    outputs = [TxOut(amount, script) for script, amount in payouts]
    outputs.append(TxOut(0, share_commitment_script(params.network_id, info)))
    if witness_commitment is not None:
        outputs.append(TxOut(0, witness_commitment))
    return tuple(outputs)


def build_coinbase(script_sig: bytes, outputs: tuple[TxOut, ...], segwit: bool) -> Transaction:
    """A coinbase transaction; with ``segwit`` its input carries the BIP141 witness reserved value."""
    witness = (WITNESS_RESERVED_VALUE,) if segwit else ()
    txin = TxIn(NULL_HASH, COINBASE_PREV_INDEX, script_sig, 0xFFFFFFFF, witness)
    return Transaction(2 if segwit else 1, (txin,), outputs, 0)
