"""The process's log: readable lines by default, one JSON object a line for collectors, to stderr or a
file rotated by size; each line names the node it came from where one process runs several (devnet).

Configured once by the command line (:func:`setup_logging`), never at import; SIGHUP changes the level
(:func:`set_level`). The node a line belongs to is a context variable (:data:`NODE_NAME`) that a node
sets in its own task: trio gives every task, and every thread it starts, a copy of its spawner's
context, so whatever a node's parts log carries its name.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

NODE_NAME: ContextVar[str | None] = ContextVar("otedama_node", default=None)
_TEXT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(node_prefix)s%(name)s: %(message)s"
# Loggers of libraries whose routine events are noise at our levels.
_QUIET = {"httpx": logging.WARNING, "hpack": logging.WARNING}


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"
    format: str = "text"  # "text" or "json"
    file: Path | None = None
    max_bytes: int = 50 * 1024 * 1024
    backups: int = 5


class _NodeFilter(logging.Filter):
    """Adds ``node`` (None outside a node) and ``node_prefix`` (``"[node1] "`` or ``""``) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        node = getattr(record, "node", None) or NODE_NAME.get()
        record.node = node
        record.node_prefix = f"[{node}] " if node else ""
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "node", "message"}`` (and ``"exception"``), one line each, UTC times."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, object] = {"time": f"{stamp}.{int(record.msecs):03d}Z", "level": record.levelname.lower(),
                                    "logger": record.name, "message": record.getMessage()}
        node = getattr(record, "node", None)
        if node:
            entry["node"] = node
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _handler(settings: LogSettings) -> logging.Handler:
    if settings.file is None:
        return logging.StreamHandler(sys.stderr)
    settings.file.parent.mkdir(parents=True, exist_ok=True)
    return logging.handlers.RotatingFileHandler(settings.file, maxBytes=settings.max_bytes,
                                                backupCount=settings.backups, encoding="utf-8")


def setup_logging(settings: LogSettings) -> None:
    """Send every log record to stderr or ``settings.file``, in ``settings.format``, from ``settings.level`` up."""
    handler = _handler(settings)
    handler.addFilter(_NodeFilter())
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT, datefmt="%H:%M:%S"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(level)
    set_level(settings.level)


def set_level(level: str) -> None:
    """The level of the whole log (libp2p's own stays quiet unless debugging: ours say what matters)."""
    logging.getLogger().setLevel(level.upper())
    logging.getLogger("libp2p").setLevel(logging.DEBUG if level == "debug" else logging.CRITICAL)


def current_level() -> str:
    return logging.getLevelName(logging.getLogger().level).lower()
