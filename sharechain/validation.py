"""Consensus rules a share must meet. Each failure raises :class:`InvalidShare` naming the rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sharechain.bitcoin.block import WITNESS_COMMITMENT_HEADER
from sharechain.bitcoin.hashing import hash_to_int
from sharechain.bitcoin.merkle import root_from_coinbase_branch
from sharechain.bitcoin.target import bits_to_target
from sharechain.bitcoin.transaction import NULL_HASH
from sharechain.params import NetworkParams
from sharechain.pplns import Payout, split_reward
from sharechain.result import InvalidShare
from sharechain.share import Share, share_commitment_script

if TYPE_CHECKING:
    from sharechain.chain import ShareChain


def check_standalone(share: Share, params: NetworkParams) -> tuple[list[Payout], int]:
    """Rules that need nothing but the share: proof of work first (cheapest to check, costliest to fake)."""
    info = share.info
    try:
        target = bits_to_target(info.share_bits)
    except ValueError as exc:
        raise InvalidShare(f"bad share target encoding: {exc}") from None
    if target == 0 or target > params.max_share_target:
        raise InvalidShare("share target is easier than the network minimum")
    if hash_to_int(share.hash) > target:
        raise InvalidShare("proof of work does not meet the share target")
    coinbase = share.coinbase
    if not coinbase.is_coinbase():
        raise InvalidShare("first transaction is not a coinbase")
    if not 2 <= len(coinbase.inputs[0].script_sig) <= 100:
        raise InvalidShare("coinbase scriptSig size out of range")
    if root_from_coinbase_branch(coinbase.txid(), share.merkle_branch) != share.header.merkle_root:
        raise InvalidShare("merkle branch does not lead to the header's merkle root")
    if (info.height == 0) != (info.prev_hash == NULL_HASH):
        raise InvalidShare("only a chain's first share may have height 0 and no parent")
    if not info.payout_script:
        raise InvalidShare("empty payout script")
    if len(info.uncles) > params.max_uncles or len(set(info.uncles)) != len(info.uncles):
        raise InvalidShare("too many or repeated uncles")
    return _split_outputs(share, params)


def _split_outputs(share: Share, params: NetworkParams) -> tuple[list[Payout], int]:
    """The coinbase's payout outputs and total value, checking the layout around the commitment:
    payouts, then the share commitment, then at most a witness commitment."""
    outputs = share.coinbase.outputs
    commitment = share_commitment_script(params.network_id, share.info)
    positions = [i for i, txout in enumerate(outputs) if txout.script_pubkey == commitment]
    if len(positions) != 1:
        raise InvalidShare("coinbase does not commit to the share information exactly once")
    at = positions[0]
    trailing = outputs[at + 1 :]
    if outputs[at].value != 0 or len(trailing) > 1 or any(
            txout.value != 0 or not txout.script_pubkey.startswith(WITNESS_COMMITMENT_HEADER) for txout in trailing):
        raise InvalidShare("unexpected outputs after the share commitment")
    payouts = [(txout.script_pubkey, txout.value) for txout in outputs[:at]]
    return payouts, sum(value for _, value in payouts)


def check_in_context(share: Share, chain: ShareChain, now: int,
                     outputs: tuple[list[Payout], int] | None = None) -> None:
    """Rules that need the share's ancestors: linkage, target, time, uncles, payouts.

    ``outputs`` is what :func:`check_standalone` returned, so the coinbase is not split twice."""
    params = chain.params
    info = share.info
    parent = chain.get(info.prev_hash) if info.height else None
    if info.height and parent is None:
        raise InvalidShare("parent share unknown")
    if parent is not None and info.height != parent.height + 1:
        raise InvalidShare(f"height {info.height} does not follow parent height {parent.height}")
    expected_bits = chain.next_bits(parent)
    if info.share_bits != expected_bits:
        raise InvalidShare(f"share target {info.share_bits:#010x} differs from the retarget rule's {expected_bits:#010x}")
    if parent is not None and info.timestamp <= chain.median_time(parent):
        raise InvalidShare("timestamp not after the median of recent shares")
    if info.timestamp > now + params.max_future_seconds:
        raise InvalidShare("timestamp too far in the future")
    chain.check_uncles(info)
    payouts, value = outputs if outputs is not None else _split_outputs(share, params)
    weights = chain.candidate_weights(info)
    expected = split_reward(value, weights, info.payout_script, params)
    if payouts != expected:
        raise InvalidShare("coinbase payouts differ from the PPLNS split")
