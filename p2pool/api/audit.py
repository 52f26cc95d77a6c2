"""The audit log of admin actions: one JSON object per line in ``datadir/audit.log`` (mode 0600).

Each line says when (UTC, ISO 8601), which client, which action with which arguments, and how it
ended (``outcome``: ok, refused, unavailable or error, with the message the client was given). The
file is opened for each line in append mode, so it may be rotated (renamed) at any time.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("otedama.api")

AUDIT_FILE = "audit.log"


class AuditLog:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock

    def record(self, *, client: str, action: str, arguments: Mapping[str, Any], outcome: str, message: str) -> None:
        """Append one line; a failure to write is logged, never raised (the action has already happened)."""
        when = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entry = {"time": when, "client": client, "action": action, "arguments": dict(arguments),
                 "outcome": outcome, "message": message}
        line = (json.dumps(entry, default=str) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("could not write the audit log %s (%s): %s", self.path, exc, line.decode().strip())
