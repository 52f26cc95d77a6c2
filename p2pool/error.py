"""The one error an operator sees for a configuration or start-up problem (no imports: anything may raise it)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration (or a start-up condition) that cannot be used.

    Each reason is one line: the key, the value and what is expected, or the thing that failed and a
    way out. ``otedama`` prints every reason and exits with status 2 (``config validate``: 1).
    """

    def __init__(self, *reasons: str) -> None:
        super().__init__("\n".join(reasons))
        self.reasons: tuple[str, ...] = reasons
