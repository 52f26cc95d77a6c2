"""What the chain knows about a share's place, gathered once and handed to the rules as plain values.

:class:`ShareChain` builds these from its index; :mod:`sharechain.validation` reads them and never
the chain, so the rules are pure functions of (share, context, params, now).
"""

from __future__ import annotations

from dataclasses import dataclass

from sharechain.record import ShareRecord


@dataclass(frozen=True, slots=True)
class UncleFacts:
    """What the uncle rule needs to know about one uncle a share names.

    The three chain facts are gathered only for an uncle inside the depth window (the rule refuses
    the others first), so naming a far-away uncle costs no walk down the chain.
    """

    hash: bytes
    height: int
    # Its parent is the including share's ancestor one height below it.
    branches_off: bool = False
    # It is itself an ancestor of the including share.
    on_own_chain: bool = False
    # An ancestor of the including share already included it.
    already_included: bool = False


@dataclass(frozen=True, slots=True)
class ShareContext:
    """Everything the in-context rules read about a share whose parent and uncles are known."""

    parent: ShareRecord | None  # None for a chain's first share
    expected_bits: int  # the retarget rule's share target, compact encoding
    median_time: int | None  # median timestamp of the parent and its recent ancestors (None: no parent)
    uncles: tuple[UncleFacts, ...]
