"""Whose fault a refused share is, decided in one place for every P2P path (gossip, sync, parent fetch)."""

from __future__ import annotations

from sharechain.rejection import Blame
from sharechain.result import AddResult, AddStatus


def sender_at_fault(result: AddResult) -> bool:
    """True when the peer that sent the share broke a rule (not, e.g., for a timestamp ahead of our clock:
    ours may be the one that lags)."""
    return result.status is AddStatus.INVALID and result.rejection is not None and result.rejection.blame is Blame.SENDER
