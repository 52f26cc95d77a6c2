"""PPLNS: how a coinbase value is split among the miners of the recent shares.

Pure integer arithmetic with a deterministic output order; :func:`split_reward` always returns
amounts that add up exactly to the value it was given.
"""

from __future__ import annotations

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
    eligible = {script: w for script, w in weights.items() if w > 0}
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
    while True:
        total = sum(eligible.values())
        amounts = {script: rest * w // total for script, w in eligible.items()} if total else {finder: 0}
        dust = [s for s, amount in amounts.items() if amount < params.dust_limit and s != finder]
        if not dust:
            break
        for script in dust:
            del eligible[script]
    amounts[finder] = amounts.get(finder, 0) + bonus + rest - sum(amounts.values())
    payouts = sorted((script, amount) for script, amount in amounts.items() if amount > 0)
    assert sum(amount for _, amount in payouts) == value
    return payouts
