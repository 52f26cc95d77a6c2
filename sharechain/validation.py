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

import operator
import struct
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

from sharechain.bitcoin.block import WITNESS_COMMITMENT_HEADER
from sharechain.bitcoin.hashing import hash_to_hex, hash_to_int
from sharechain.bitcoin.merkle import root_from_coinbase_branch
from sharechain.bitcoin.serialize import ParseError
from sharechain.bitcoin.target import bits_to_target
from sharechain.bitcoin.transaction import NULL_HASH, TxOut
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


class WirePayouts(NamedTuple):
    """The same facts as :class:`CoinbasePayouts` in the coinbase's own encoding: the payout outputs'
    bytes (canonical, so equal bytes are equal outputs) and their total value. A share checked in
    another process (:func:`check_bytes`) is checked against them, without its outputs decoded."""

    wire: bytes
    value: int


class StandaloneVerdict(NamedTuple):
    """What :func:`check_standalone` found of a share's bytes without the retarget rule (its parent
    is not known where it ran): the rule it broke, or its payouts' total value and where in the share's
    bytes their outputs are (a few numbers: a join sends thousands of verdicts between processes)."""

    rejection: Rejection | None
    detail: str = ""
    value: int = 0
    payouts_start: int = 0
    payouts_end: int = 0


# Rules of stage 1 that come before the retarget rule (the order of :func:`check_target`).
_BEFORE_RETARGET = frozenset({Rejection.BAD_TARGET_ENCODING, Rejection.TARGET_TOO_EASY})


# --- stage 1: the share alone ---------------------------------------------------------------------------
def check_bytes(raw: bytes, params: NetworkParams) -> StandaloneVerdict | str:
    """Decode a share and run stage 1 on it but for the retarget rule: a :class:`StandaloneVerdict`,
    or what is malformed (a :class:`ParseError`'s message). Pure; run in a join's checking process."""
    try:
        share = Share.parse(raw)
    except ParseError as exc:
        return str(exc) or "malformed share"
    try:
        paid = check_standalone(share, params, None)
    except InvalidShare as exc:
        return StandaloneVerdict(exc.rejection, exc.detail)
    wire = b"".join([txout.serialize() for txout in share.coinbase.outputs[: len(paid.payouts)]])
    # Any place in the share's bytes that holds these bytes will do: the chain compares bytes.
    start = raw.find(wire) if wire else 0
    assert start >= 0  # (the outputs were read from these bytes, in the one encoding they have)
    return StandaloneVerdict(None, "", paid.value, start, start + len(wire))


def apply_verdict(share: Share, verdict: StandaloneVerdict, expected_bits: int | None) -> WirePayouts:
    """Stage 1 for a share checked elsewhere (:func:`check_bytes` on its bytes): the retarget rule when
    its value is known, in the order :func:`check_standalone` runs the rules, then the verdict's own."""
    if verdict.rejection in _BEFORE_RETARGET:
        raise InvalidShare(verdict.rejection, verdict.detail)
    if expected_bits is not None:
        _check_retarget(share.info, expected_bits)
    if verdict.rejection is not None:
        raise InvalidShare(verdict.rejection, verdict.detail)
    return WirePayouts(share.raw[verdict.payouts_start : verdict.payouts_end], verdict.value)


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
        target = _decode_target(info.share_bits)
    except ValueError as exc:
        raise InvalidShare(Rejection.BAD_TARGET_ENCODING, f"bad share target encoding: {exc}") from None
    if target == 0 or target > params.max_share_target:
        raise InvalidShare(Rejection.TARGET_TOO_EASY)
    if expected_bits is not None:
        _check_retarget(info, expected_bits)
    return target


# A chain's shares carry a few distinct targets (a refused encoding raises each time: not cached).
_decode_target = lru_cache(maxsize=1024)(bits_to_target)


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
    commitment = share_commitment_script(params.network_id, share.info, share.info_bytes())
    scripts = list(map(_script_of, outputs))
    found = scripts.count(commitment)
    if not found:
        raise InvalidShare(Rejection.COMMITMENT_MISSING, f"coinbase does not commit to the share information "
                                                         f"on network {params.name} ({params.network_id.hex()})")
    if found > 1:
        raise InvalidShare(Rejection.COMMITMENT_REPEATED, f"coinbase commits to the share information "
                                                          f"{found} times")
    at = scripts.index(commitment)
    if outputs[at].value != 0 or len(outputs) > at + 2:
        raise InvalidShare(Rejection.UNEXPECTED_OUTPUTS)
    if len(outputs) == at + 2:  # (a generator for nothing would cost as much as the rest)
        witness = outputs[at + 1]
        if witness.value != 0 or not witness.script_pubkey.startswith(WITNESS_COMMITMENT_HEADER):
            raise InvalidShare(Rejection.UNEXPECTED_OUTPUTS)
    del scripts[at:]
    values = list(map(_value_of, outputs[:at]))
    return CoinbasePayouts(list(zip(scripts, values, strict=True)), sum(values))


_value_of, _script_of = operator.itemgetter(0), operator.itemgetter(1)  # (a TxOut's fields by position)


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
def check_payouts(info: ShareInfo, paid: CoinbasePayouts | WirePayouts, weights: Mapping[bytes, int],
                  params: NetworkParams) -> None:
    """The coinbase pays exactly, in value and order, the PPLNS split of its value over ``weights``."""
    expected = split_reward(paid.value, weights, info.payout_script, params)
    if isinstance(paid, WirePayouts):
        try:
            same = paid.wire == payouts_wire(expected)
        except (struct.error, OverflowError):  # an amount no output can hold (outputs summing past 2^64)
            same = False
    else:
        same = paid.payouts == expected
    if not same:
        raise InvalidShare(Rejection.PAYOUTS_DIFFER)


_VALUE_AND_LENGTH = struct.Struct("<QB")


def payouts_wire(payouts: list[Payout]) -> bytes:
    """The coinbase outputs paying ``payouts``, encoded (as :meth:`TxOut.serialize` does)."""
    pack = _VALUE_AND_LENGTH.pack
    return b"".join([pack(value, len(script)) + script if len(script) < 0xFD else TxOut(value, script).serialize()
                     for script, value in payouts])
