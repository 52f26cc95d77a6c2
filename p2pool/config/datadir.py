"""The data directory checked before anything is written to it: one clear line for each way it can be
unusable (a file, under a file, not creatable, not writable)."""

from __future__ import annotations

import os
from pathlib import Path

from p2pool.error import ConfigError

_WAY_OUT = "choose another with --datadir"


def datadir_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the datadir, as far as is known without creating anything (None: no problem seen)."""
    if path.exists() and not path.is_dir():
        return f"datadir {path} is a file, not a directory; {_WAY_OUT}"
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"datadir {path} is under {parent}, which is a file; {_WAY_OUT}"
            break
    return None


def prepare_datadir(path: Path) -> None:
    """Create ``path`` if needed and prove it writable, or raise :class:`ConfigError` saying why not."""
    if problem := datadir_problem(path):
        raise ConfigError(problem)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create datadir {path}: {exc.strerror or exc}; {_WAY_OUT}") from None
    probe = path / f".otedama-write-test-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"datadir {path} is not writable ({exc.strerror or exc}); fix its permissions or "
                          f"{_WAY_OUT}") from None
