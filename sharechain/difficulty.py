"""The share-target retarget rule: steer toward one share per ``share_period`` seconds."""

from __future__ import annotations

from sharechain.bitcoin.target import bits_to_target, target_from_work, target_to_bits
from sharechain.params import NetworkParams
from sharechain.record import ShareRecord


def next_share_bits(params: NetworkParams, parent: ShareRecord | None, oldest: ShareRecord | None) -> int:
    """Compact target of the share after ``parent``.

    ``oldest`` is the ancestor ``min(retarget_window, parent.height)`` shares below ``parent``. The
    hash rate over that span (main-chain work / elapsed seconds) times the share period gives the
    wanted work per share; the result is at most ``retarget_harder_max`` times harder and at most
    ``retarget_step_num/den`` times easier than the parent's target, and never easier than the
    network's minimum share difficulty.
    """
    if parent is None:
        return target_to_bits(params.max_share_target)
    target = parent.target
    if oldest is not None and oldest.height < parent.height:
        timespan = max(1, parent.timestamp - oldest.timestamp)
        work = parent.main_work - oldest.main_work
        target = target_from_work(max(1, work * params.share_period // timespan))
    hardest = parent.target // params.retarget_harder_max
    easiest = parent.target * params.retarget_step_num // params.retarget_step_den
    target = max(1, min(max(target, hardest), easiest, params.max_share_target))
    return target_to_bits(target)


def share_target(bits: int) -> int:
    return bits_to_target(bits)
