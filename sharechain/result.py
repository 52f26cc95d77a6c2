"""What adding a share did: the sharechain reports, the node acts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sharechain.share import Share


class AddStatus(enum.Enum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    INVALID = "invalid"
    ORPHAN = "orphan"  # kept aside until ``missing`` arrive


@dataclass(frozen=True)
class AddResult:
    status: AddStatus
    share_hash: bytes
    error: str | None = None
    # Hashes to fetch (parents or uncles) before the share can connect.
    missing: tuple[bytes, ...] = ()
    # Every share that joined the chain, in order: this one and any orphans it connected. The node
    # stores them before announcing them.
    accepted: tuple[Share, ...] = ()
    # Orphans that turned out invalid once their parents arrived: (hash, reason).
    rejected: tuple[tuple[bytes, str], ...] = ()
    new_tip: bytes | None = None
    # Shares of the old main chain that are no longer on it (0: the tip only moved forward).
    reorg_depth: int = 0
    extra: dict[str, object] = field(default_factory=dict)


class InvalidShare(ValueError):
    """A share that breaks a consensus rule; the message names the rule."""
