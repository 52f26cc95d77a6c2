"""Trying the share database again after a failed write (a full disk), until it takes writes.

The node refuses shares meanwhile (:class:`~p2pool.intake.ShareIntake`); this task is what lets it
resume by itself once the operator frees space, without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

log = logging.getLogger("otedama.storage")
RETRY_INTERVAL = 5.0  # seconds between attempts while the database cannot write


async def recover_when_writable(unwritable: Callable[[], str | None], recover: Callable[[], bool],
                                interval: float = RETRY_INTERVAL) -> None:
    """Every ``interval`` seconds while ``unwritable()`` names a reason, call ``recover()``."""
    while True:
        await trio.sleep(interval)
        if unwritable() is not None and not recover():
            log.error("share database still cannot write: %s", unwritable())
