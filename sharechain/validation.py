"""Every consensus rule a share must meet, as pure functions of the share, its context and the params.

Each failure raises :class:`InvalidShare` with the :class:`Rejection` it broke. The rules run in
stages, cheapest and hardest to fake first (as Monero's p2pool does); the chain runs them in order
and gathers between stages only the facts the next stage needs:

1. :func:`check_standalone` — needs the share alone (and the retarget value when the parent is
   known): target encoding, too easy, retarget, proof of work, then merkle branch and coinbase layout.
2. :func:`check_in_context` — needs a :class:`ShareContext` (parent and uncles known): height,
   retarget, timestamps, uncles.
3. :func:`check_payouts` — needs the PPLNS window, the one costly fact: the exact payout split.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from sharechain.bitcoin.block import WITNESS_COMMITMENT_HEADER
from sharechain.bitcoin.hashing import hash_to_hex, hash_to_int
from sharechain.bitcoin.merkle import root_from_coinbase_branch
from sharechain.bitcoin.target import bits_to_target
from sharechain.bitcoin.transaction import NULL_HASH
from sharechain.context import ShareContext, UncleFacts
from sharechain.params import NetworkParams
from sharechain.pplns import Payout, split_reward
from sharechain.rejection import InvalidShare, Rejection
from sharechain.share import MAX_SCRIPT_SIG_SIZE, MIN_SCRIPT_SIG_SIZE, Share, ShareInfo, share_commitment_script


class CoinbasePayouts(NamedTuple):
    """The outputs a share's coinbase pays before its commitment, and their total value (a tuple:
    built for every share checked, where a frozen dataclass's slower construction shows)."""

    payouts: list[Payout]
    value: int


# --- stage 1: the share alone ---------------------------------------------------------------------------
def check_standalone(share: Share, params: NetworkParams, expected_bits: int | None) -> CoinbasePayouts:
    """Target, proof of work, structure and coinbase layout. ``expected_bits`` is the retarget rule's
    value when the parent is known (or the share is a chain's first), else None (checked in context)."""
    target = check_target(share.info, params, expected_bits)
    if hash_to_int(share.hash) > target:
        raise InvalidShare(Rejection.PROOF_OF_WORK)
    check_structure(share, params)
    return coinbase_payouts(share, params)


def check_target(info: ShareInfo, params: NetworkParams, expected_bits: int | None) -> int:
    """The share target decodes, is not easier than the network minimum and follows the retarget."""
    try:
        target = bits_to_target(info.share_bits)
    except ValueError as exc:
        raise InvalidShare(Rejection.BAD_TARGET_ENCODING, f"bad share target encoding: {exc}") from None
    if target == 0 or target > params.max_share_target:
        raise InvalidShare(Rejection.TARGET_TOO_EASY)
    if expected_bits is not None:
        _check_retarget(info, expected_bits)
    return target


def _check_retarget(info: ShareInfo, expected_bits: int) -> None:
    if info.share_bits != expected_bits:
        raise InvalidShare(Rejection.RETARGET_MISMATCH, f"share target {info.share_bits:#010x} differs from "
                                                        f"the retarget rule's {expected_bits:#010x}")


def check_structure(share: Share, params: NetworkParams) -> None:
    """The coinbase, the merkle branch and the share's own fields."""
    info = share.info
    coinbase = share.coinbase
    if not coinbase.is_coinbase():
        raise InvalidShare(Rejection.NOT_COINBASE)
    if not MIN_SCRIPT_SIG_SIZE <= len(coinbase.inputs[0].script_sig) <= MAX_SCRIPT_SIG_SIZE:
        raise InvalidShare(Rejection.SCRIPT_SIG_SIZE, f"coinbase scriptSig of {len(coinbase.inputs[0].script_sig)} "
                                                      f"bytes, not {MIN_SCRIPT_SIG_SIZE}-{MAX_SCRIPT_SIG_SIZE}")
    if root_from_coinbase_branch(coinbase.txid(), share.merkle_branch) != share.header.merkle_root:
        raise InvalidShare(Rejection.MERKLE_BRANCH)
    if (info.height == 0) != (info.prev_hash == NULL_HASH):
        raise InvalidShare(Rejection.FIRST_SHARE_MISMATCH)
    if not info.payout_script:
        raise InvalidShare(Rejection.EMPTY_PAYOUT_SCRIPT)
    if len(info.uncles) > params.max_uncles:
        raise InvalidShare(Rejection.TOO_MANY_UNCLES, f"{len(info.uncles)} uncles, at most {params.max_uncles}")
    if len(set(info.uncles)) != len(info.uncles):
        raise InvalidShare(Rejection.REPEATED_UNCLE)


def coinbase_payouts(share: Share, params: NetworkParams) -> CoinbasePayouts:
    """The coinbase's payout outputs and total value, checking the layout around the commitment:
    payouts, then the share commitment, then at most a witness commitment."""
    outputs = share.coinbase.outputs
    commitment = share_commitment_script(params.network_id, share.info)
    positions = [i for i, txout in enumerate(outputs) if txout.script_pubkey == commitment]
    if not positions:
        raise InvalidShare(Rejection.COMMITMENT_MISSING, f"coinbase does not commit to the share information "
                                                         f"on network {params.name} ({params.network_id.hex()})")
    if len(positions) > 1:
        raise InvalidShare(Rejection.COMMITMENT_REPEATED, f"coinbase commits to the share information "
                                                          f"{len(positions)} times")
    at = positions[0]
    trailing = outputs[at + 1 :]
    if outputs[at].value != 0 or len(trailing) > 1 or any(
            txout.value != 0 or not txout.script_pubkey.startswith(WITNESS_COMMITMENT_HEADER) for txout in trailing):
        raise InvalidShare(Rejection.UNEXPECTED_OUTPUTS)
    payouts = [(txout.script_pubkey, txout.value) for txout in outputs[:at]]
    return CoinbasePayouts(payouts, sum(value for _, value in payouts))


# --- stage 2: the share's place on the chain --------------------------------------------------------------
def check_in_context(info: ShareInfo, context: ShareContext, params: NetworkParams, now: int) -> None:
    """Linkage, retarget, timestamps (against the median and against ``now``, our clock) and uncles."""
    parent_height = context.parent.height if context.parent is not None else -1
    if info.height != parent_height + 1:
        raise InvalidShare(Rejection.PARENT_HEIGHT, f"height {info.height} does not follow parent height "
                                                    f"{parent_height}")
    _check_retarget(info, context.expected_bits)
    if context.median_time is not None and info.timestamp <= context.median_time:
        raise InvalidShare(Rejection.TIMESTAMP_NOT_AFTER_MEDIAN, f"timestamp {info.timestamp} not after the median "
                                                                 f"{context.median_time} of recent shares")
    if info.timestamp > now + params.max_future_seconds:
        raise InvalidShare(Rejection.TIMESTAMP_IN_FUTURE, f"timestamp too far in the future ({info.timestamp - now} s "
                                                          f"ahead of this node's clock, at most "
                                                          f"{params.max_future_seconds} s)")
    for uncle in context.uncles:
        rejection = uncle_rejection(info.height, uncle, params)
        if rejection is not None:
            raise InvalidShare(rejection, f"{rejection.summary} ({hash_to_hex(uncle.hash)[:16]})")


def uncle_rejection(height: int, uncle: UncleFacts, params: NetworkParams) -> Rejection | None:
    """The rule an uncle breaks for a share at ``height``, or None when it may be included."""
    if not height - params.uncle_depth <= uncle.height < height:
        return Rejection.UNCLE_DEPTH
    if uncle.height == 0:
        return Rejection.UNCLE_IS_FIRST_SHARE
    if not uncle.branches_off:
        return Rejection.UNCLE_NOT_BRANCHING
    if uncle.on_own_chain:
        return Rejection.UNCLE_ON_OWN_CHAIN
    if uncle.already_included:
        return Rejection.UNCLE_ALREADY_INCLUDED
    return None


def uncle_in_reach(height: int, uncle_height: int, params: NetworkParams) -> bool:
    """Whether the uncle rule reads more than the height of an uncle at ``uncle_height`` (if not, the
    chain need not walk its ancestors to gather the other facts)."""
    return height - params.uncle_depth <= uncle_height < height and uncle_height > 0


# --- stage 3: the payouts -----------------------------------------------------------------------------------
def check_payouts(info: ShareInfo, paid: CoinbasePayouts, weights: Mapping[bytes, int],
                  params: NetworkParams) -> None:
    """The coinbase pays exactly, in value and order, the PPLNS split of its value over ``weights``."""
    if paid.payouts != split_reward(paid.value, weights, info.payout_script, params):
        raise InvalidShare(Rejection.PAYOUTS_DIFFER)
