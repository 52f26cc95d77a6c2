"""The node's API served in-process on 127.0.0.1 for tests, with the sources a test hands it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from p2pool.api import ApiConfig, ApiSources, serve_api
from p2pool.api.server import API_LIMITS

TOKEN = "test-token-0123456789abcdef"


async def start_api(nursery: trio.Nursery, sources: ApiSources, datadir: Path, **config: Any) -> str:
    """Serve the API; returns its base URL. ``config`` overrides :class:`ApiConfig` fields, and ``limits``
    may be a dict of :data:`API_LIMITS` fields."""
    limits = replace(API_LIMITS, **config.pop("limits", {}))
    api = ApiConfig(host="127.0.0.1", port=0, token=TOKEN, audit_path=datadir / "audit.log", limits=limits, **config)
    port = await nursery.start(serve_api, sources, api)
    return f"{api.scheme}://127.0.0.1:{port}"
