"""What a node must keep of its sharechain, and so what it may forget: the keep rule.

A share at height ``h`` is validated from the shares at most :func:`reach` heights below it (its
PPLNS window and the uncles in it, the retarget and median-time look-back, its uncles' parents).
A node follows forks off its main chain at or above the **floor**, ``reorg_margin`` heights below
the highest tip it has had; a share forking lower is refused (``fork-too-deep``, nobody's fault).
So every share it may still validate needs nothing below ``floor + 1 - reach``: the **lowest kept
height**. Everything under it is pruned, in memory and on disk, whatever the chain's age.

Pure and deterministic: the horizon is a function of the floor and the constants, and the floor of
the tip heights seen; nothing here reads a clock or the order shares arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sharechain.params import NetworkParams

# The floor of a chain that has seen no share yet (and of one whose tip is not yet a margin high).
NO_FLOOR = -(1 << 62)


def reach(params: NetworkParams) -> int:
    """How many heights below a new share its validation reads (the share at ``h`` needs ``h - reach``).

    The PPLNS window of ``h`` is the ``pplns_window`` main-chain shares ending at ``h``; it is its
    parent's window plus ``h`` minus the share at ``h - pplns_window``, whose uncles lie up to
    ``uncle_depth`` lower. The retarget reads the ancestor ``retarget_window`` below the parent, the
    median time ``median_time_span`` ancestors from the parent, the uncle rule each uncle's parent.
    """
    return max(params.pplns_window + params.uncle_depth, params.retarget_window + 1, params.median_time_span,
               params.uncle_depth + 1)


def keep_depth(params: NetworkParams) -> int:
    """Main-chain heights a node holds once its chain is long enough: the margin above the floor, the
    floor itself, and the ``reach - 1`` heights of context below it (mainnet: 8,640 + 8,643)."""
    return params.reorg_margin + reach(params)


def raise_floor(floor: int, tip_height: int, params: NetworkParams) -> int:
    """The floor once the tip is at ``tip_height``: it follows the highest tip and never comes down."""
    return max(floor, tip_height - params.reorg_margin)


def lowest_kept(floor: int, params: NetworkParams) -> int:
    """The lowest height still needed when forks below ``floor`` are refused (0 while nothing is)."""
    return max(0, floor + 1 - reach(params))


def floor_of_kept(lowest: int, tip_height: int, params: NetworkParams) -> int:
    """The floor of a chain rebuilt from kept shares whose lowest height is ``lowest`` (after a restart,
    or for a node that joined): forks must leave room for ``reach`` heights of context above it."""
    floor = tip_height - params.reorg_margin
    if lowest > 0:
        floor = max(floor, lowest + reach(params) - 1)
    return floor


@dataclass(frozen=True, slots=True)
class Horizon:
    """Where a chain stands: forks below ``floor`` are refused, heights below ``lowest`` are pruned."""

    floor: int
    lowest: int

    @classmethod
    def of(cls, floor: int, params: NetworkParams) -> Horizon:
        return cls(floor, lowest_kept(floor, params))

    def too_deep(self, fork_height: int) -> bool:
        """Whether a share whose chain leaves the main chain at ``fork_height`` is refused."""
        return fork_height < self.floor
