"""Is each miner paid in proportion to its hashing work? The statistics of the uncle simulation.

The test. Let ``p`` be a miner's share of all hashes tried (counted, not estimated). Under the null
hypothesis "the pool pays by work", every share is the miner's with probability ``p``, independently
of the others: miners hash at steady rates against the same share target at any one time, so the
shares are the points of Poisson processes whose merge gives each point to miner m with probability
``p_m``. The reward a share carries does not depend on who found it: its weight in each PPLNS window
is its work (the same for every miner at that height), an uncle's is its work less the penalty,
which goes to the including share (Bernoulli ``p`` too), and a block's finder bonus goes to the
finding share. So a share's *exposure* ``e_i`` (its fraction of all rewards paid, summed over every
block whose window holds it) is fixed by the chain, and the miner's paid share is ``sum_i e_i X_i``
with ``X_i ~ Bernoulli(p)``: mean ``p * sum_i e_i = p``, variance ``p (1 - p) sum_i e_i^2``. With
``n_eff = 1 / sum_i e_i^2`` (the number of equally exposed shares that would spread as much; windows
that overlap count their shares once, weighted), the spread is ``sqrt(p (1 - p) / n_eff)`` and
``z = (paid - p) / spread``. The target is ``|z| < 3`` for every miner (two-sided, about 0.3 % per
miner by chance under the normal approximation, which holds while ``n_eff * p`` is not tiny).

Lost work (orphans, stale hashes that made no share) shows as a negative z for the miners it hits.
Assumptions: constant hash rates; dust and the payout cap do not bite (every miner is well over the
dust limit and there are far fewer miners than ``max_payouts``). Exact fractions where they are
summed; floats only for the square root. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from sharechain.chain import ShareChain


@dataclass(frozen=True)
class BlockWindow:
    """One block: the value its coinbase paid, the share that found it, each share's PPLNS weight."""

    value: int
    finder: bytes
    weights: Mapping[bytes, int]


@dataclass(frozen=True)
class MinerFairness:
    name: str
    work_share: Fraction  # of all hashes tried
    paid_share: Fraction  # of all block rewards, from the coinbases
    spread: float  # standard deviation of paid_share expected under "paid by work"
    z: float


def share_weights(chain: ShareChain, share_hash: bytes) -> dict[bytes, int]:
    """Each share's weight in the PPLNS window ending at ``share_hash``, as the chain splits it: a
    main-chain share its work plus the penalties of the uncles it includes, an uncle its work less
    the penalty (``sharechain.pplns.contribution``, by share instead of by script)."""
    penalty_percent = chain.params.uncle_penalty_percent
    weights: dict[bytes, int] = {}
    for count, record in enumerate(chain.ancestors(share_hash)):
        if count == chain.params.pplns_window:
            break
        own = record.work
        for uncle_hash in record.uncles:
            uncle = chain.get(uncle_hash)
            if uncle is None:
                raise KeyError(f"uncle {uncle_hash[::-1].hex()} of {record.hash[::-1].hex()} is not in the chain")
            penalty = uncle.work * penalty_percent // 100
            own += penalty
            weights[uncle.hash] = weights.get(uncle.hash, 0) + uncle.work - penalty
        weights[record.hash] = weights.get(record.hash, 0) + own
    return weights


def exposures(blocks: Iterable[BlockWindow], finder_bonus_per_mille: int) -> dict[bytes, Fraction]:
    """Each share's fraction of all the rewards the blocks paid (they add up to 1)."""
    listed = list(blocks)
    total = sum(b.value for b in listed)
    out: dict[bytes, Fraction] = {}
    if total == 0:
        return out
    for block in listed:
        reward = Fraction(block.value, total)
        bonus = reward * finder_bonus_per_mille / 1000
        out[block.finder] = out.get(block.finder, Fraction(0)) + bonus
        weight = sum(block.weights.values())
        for share, w in block.weights.items():
            out[share] = out.get(share, Fraction(0)) + (reward - bonus) * w / weight
    return out


def effective_shares(exposure: Mapping[bytes, Fraction]) -> float:
    """``1 / sum e_i^2``: how many equally paid shares would spread a miner's pay as much."""
    squares = sum((e * e for e in exposure.values()), Fraction(0))
    return float(1 / squares) if squares else 0.0


def fairness(work: Mapping[str, int], paid: Mapping[str, int],
             exposure: Mapping[bytes, Fraction]) -> list[MinerFairness]:
    """Per miner (``work``: hashes tried, ``paid``: satoshis received): work share, paid share, spread, z."""
    total_work, total_paid = sum(work.values()), sum(paid.values())
    n_eff = effective_shares(exposure)
    out = []
    for name in sorted(work):
        p = Fraction(work[name], total_work)
        paid_share = Fraction(paid.get(name, 0), total_paid) if total_paid else Fraction(0)
        spread = math.sqrt(float(p * (1 - p)) / n_eff) if n_eff else math.inf
        z = float(paid_share - p) / spread if spread and math.isfinite(spread) else 0.0
        out.append(MinerFairness(name, p, paid_share, spread, z))
    return out
