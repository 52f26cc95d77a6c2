"""The installed Otedama version."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def otedama_version() -> str:
    try:
        return version("otedama")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"
