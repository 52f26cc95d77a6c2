"""A streak of failed writes to a file the node keeps but does not need to run (statistics, ban lists,
the address book): the first failure is logged with what it means, the first success after it says the
file is written again, and nothing in between fills the log (a full disk fails every few seconds)."""

from __future__ import annotations

import logging


class WriteFailures:
    """What ``what`` (e.g. "the ban list /path") last failed with, ``None`` while its writes succeed."""

    def __init__(self, logger: logging.Logger, what: str, meanwhile: str) -> None:
        self.logger = logger
        self.what = what
        self.meanwhile = meanwhile  # what the node does until a write succeeds
        self.error: str | None = None

    def failed(self, exc: BaseException) -> None:
        if self.error is None:
            self.logger.error("cannot write %s (%s): %s", self.what, exc, self.meanwhile)
        self.error = str(exc) or type(exc).__name__

    def succeeded(self) -> None:
        if self.error is not None:
            self.logger.warning("%s written again (after: %s)", self.what, self.error)
            self.error = None
