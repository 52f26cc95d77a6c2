"""What adding a share did: the sharechain reports, the node acts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sharechain.bitcoin.frozen import builder
from sharechain.rejection import Rejection
from sharechain.share import Share


class AddStatus(enum.Enum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    INVALID = "invalid"
    ORPHAN = "orphan"  # kept aside until ``missing`` arrive


@dataclass(frozen=True, slots=True)
class Refusal:
    """A share refused by a rule: which one (``rejection``, with its blame) and a human ``detail``."""

    share_hash: bytes
    rejection: Rejection
    detail: str


@dataclass(frozen=True, slots=True)
class AddResult:
    status: AddStatus
    share_hash: bytes
    # For INVALID: the human text (for logs and people) and the rule broken (for decisions).
    error: str | None = None
    rejection: Rejection | None = None
    # Hashes to fetch (parents or uncles) before the share can connect.
    missing: tuple[bytes, ...] = ()
    # Every share that joined the chain, in order: this one and any orphans it connected. The node
    # stores them before announcing them.
    accepted: tuple[Share, ...] = ()
    # Orphans that turned out invalid once their parents arrived.
    rejected: tuple[Refusal, ...] = ()
    new_tip: bytes | None = None
    # Shares of the old main chain that are no longer on it (0: the tip only moved forward).
    reorg_depth: int = 0
    # Shares forgotten because the floor rose (their hashes): the store deletes them with this write.
    pruned: tuple[bytes, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


# ``AddResult(ADDED, ...)`` for every share a sync adds, all fields given: built through its slots.
_build = builder(AddResult)


def added(share_hash: bytes, accepted: tuple[Share, ...], rejected: tuple[Refusal, ...] = (),
          missing: tuple[bytes, ...] = (), new_tip: bytes | None = None, reorg_depth: int = 0,
          pruned: tuple[bytes, ...] = ()) -> AddResult:
    """The result of a share that joined (with ``accepted``: it and the orphans it connected)."""
    return _build(AddStatus.ADDED, share_hash, None, None, missing, accepted, rejected, new_tip, reorg_depth, pruned,
                  {})
