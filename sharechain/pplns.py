"""PPLNS: how a coinbase value is split among the miners of the recent shares.

Pure integer arithmetic with a deterministic output order; :func:`split_reward` always returns
amounts that add up exactly to the value it was given.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Iterable, Mapping

from sharechain.params import NetworkParams

Payout = tuple[bytes, int]  # (output script, satoshis)


def contribution(own_script: bytes, own_work: int, uncles: Iterable[tuple[bytes, int]],
                 penalty_percent: int) -> list[Payout]:
    """The weight one main-chain share adds to the window: its own work, and each uncle's work less
    a penalty that is credited to the including share (as Monero's p2pool does)."""
    weights: list[Payout] = []
    own = own_work
    for uncle_script, uncle_work in uncles:
        penalty = uncle_work * penalty_percent // 100
        own += penalty
        weights.append((uncle_script, uncle_work - penalty))
    weights.append((own_script, own))
    return weights


def add_weights(into: dict[bytes, int], weights: Iterable[Payout], sign: int = 1) -> None:
    for script, weight in weights:
        value = into.get(script, 0) + sign * weight
        if value:
            into[script] = value
        else:
            into.pop(script, None)


def _capped(weights: Mapping[bytes, int], finder: bytes, max_payouts: int) -> dict[bytes, int]:
    """The ``max_payouts`` heaviest scripts (ties by script bytes), the finder always among them."""
    # (C-level passes where the common case allows: every weight positive, no dust, no zero amount.)
    eligible = dict(weights) if weights and min(weights.values()) > 0 else {s: w for s, w in weights.items() if w > 0}
    eligible.setdefault(finder, 0)
    if len(eligible) <= max_payouts:
        return eligible
    ranked = sorted(eligible, key=lambda s: (s != finder, -eligible[s], s))
    return {script: eligible[script] for script in ranked[:max_payouts]}


def split_reward(value: int, weights: Mapping[bytes, int], finder: bytes, params: NetworkParams) -> list[Payout]:
    """Split ``value`` satoshis: a finder bonus to ``finder``, the rest by weight.

    Shares under the dust limit are dropped and the split redone among the others until none is;
    the integer-division remainder goes to the finder. Outputs are sorted by script bytes and
    zero amounts are left out.
    """
    if value < 0:
        raise ValueError("negative coinbase value")
    bonus = value * params.finder_bonus_per_mille // 1000
    rest = value - bonus
    eligible = _capped(weights, finder, params.max_payouts)
    dust_limit = params.dust_limit
    while True:
        total = sum(eligible.values())
        amounts = {script: rest * w // total for script, w in eligible.items()} if total else {finder: 0}
        if min(amounts.values()) >= dust_limit:
            break
        dust = [s for s, amount in amounts.items() if amount < dust_limit and s != finder]
        if not dust:
            break
        for script in dust:
            del eligible[script]
    amounts[finder] = amounts.get(finder, 0) + bonus + rest - sum(amounts.values())
    if min(amounts.values()) > 0:
        scripts = sorted(amounts)
        payouts = list(zip(scripts, map(amounts.__getitem__, scripts), strict=True))
    else:
        payouts = sorted((script, amount) for script, amount in amounts.items() if amount > 0)
    assert sum(map(_amount_of, payouts)) == value
    return payouts


_amount_of = operator.itemgetter(1)


class SharedSplit:
    """The PPLNS split of one candidate window, computed once for every payout script.

    ``weights`` is the window of the next share without that share's own weight (the window moved on
    by one share, its uncles credited), ``own_weight`` what the share adds for whoever mines it. The
    window moves the same way whoever the miner is, so a script's split is :func:`split_reward` of
    ``weights`` plus ``own_weight`` for it: exactly what ``ShareChain.prepare`` gives.

    For a finder with no weight in the window yet (most miners of a busy node at any one time) the
    split is the same whoever that finder is: the finder comes first in the cap, the others' amounts
    and the dust rule depend only on the total, which is the same. So it is computed once, with a
    stand-in script, and each newcomer only takes the stand-in's place in the sorted outputs."""

    __slots__ = ("_newcomer", "_others", "_params", "_value", "_weights", "own_weight")

    def __init__(self, value: int, weights: Mapping[bytes, int], own_weight: int, params: NetworkParams) -> None:
        self._value = value
        self._weights = dict(weights)
        self.own_weight = own_weight
        self._params = params
        stand_in = b""
        while stand_in in self._weights:
            stand_in += b"\x00"
        split = self._split(stand_in)
        self._others = tuple(payout for payout in split if payout[0] != stand_in)
        self._newcomer = next((amount for script, amount in split if script == stand_in), 0)

    def newcomer(self, finder: bytes) -> tuple[tuple[Payout, ...], int] | None:
        """For a finder with no weight in the window: the others' payouts (sorted) and the finder's amount,
        which :meth:`payouts` inserts in order (none when 0); None for a finder with weight there."""
        if finder in self._weights:
            return None
        return self._others, self._newcomer

    def payouts(self, finder: bytes) -> list[Payout]:
        """The coinbase payouts of a share mined by ``finder`` on this window."""
        if finder in self._weights:
            return self._split(finder)
        payouts = list(self._others)
        if self._newcomer:
            bisect.insort(payouts, (finder, self._newcomer))
        return payouts

    def _split(self, finder: bytes) -> list[Payout]:
        weights = dict(self._weights)
        add_weights(weights, ((finder, self.own_weight),))
        return split_reward(self._value, weights, finder, self._params)
