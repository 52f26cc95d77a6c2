"""Whose fault a refused share is, decided in one place for every P2P path (gossip, sync, parent fetch)."""

from __future__ import annotations

from sharechain.result import AddResult, AddStatus


def sender_at_fault(result: AddResult) -> bool:
    """True when the peer that sent the share is to blame (not, e.g., for a timestamp ahead of our clock)."""
    return result.status is AddStatus.INVALID and "in the future" not in (result.error or "")
