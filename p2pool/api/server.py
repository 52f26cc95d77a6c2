"""Runs the node's API in the node's nursery: ``await nursery.start(serve_api, sources, config)``.

:func:`api_config` reads the node's options (``--api``, ``--api-token``/``--api-token-file``,
``--api-cors``, ``--api-tls-cert``/``--api-tls-key``); a port that cannot be had, or TLS files that
cannot be loaded, end as one :class:`~p2pool.config.ConfigError` naming them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trio

from p2pool.api.app import ApiSources, build_app
from p2pool.api.audit import AUDIT_FILE, AuditLog
from p2pool.api.auth import resolve_token
from p2pool.config import ConfigError, NodeConfig
from p2pool.http.limits import HttpLimits
from p2pool.http.serve import TlsFiles, serve_asgi

# What one client of the node's API may spend: small bodies (admin JSON), a request rate a dashboard
# and scripts stay far below, and connection counts a browser or two never reach.
API_LIMITS = HttpLimits(max_body=64 * 1024, max_header=16 * 1024, request_timeout=30.0, send_timeout=30.0,
                        max_connections=256, max_connections_per_client=32, rate=50.0, burst=200.0)


@dataclass(frozen=True)
class ApiConfig:
    host: str
    port: int
    token: str
    audit_path: Path
    cors: tuple[str, ...] = ()
    tls: TlsFiles | None = None
    limits: HttpLimits = API_LIMITS

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"


def api_config(config: NodeConfig, datadir: Path) -> ApiConfig:
    """The API's settings from the node's options (checked already when the configuration was built)."""
    cert, key = config.api_tls_cert, config.api_tls_key
    return ApiConfig(host=config.api.host, port=config.api.port,
                     token=resolve_token(datadir, config.api_token, config.api_token_file),
                     audit_path=datadir / AUDIT_FILE, cors=config.api_cors,
                     tls=TlsFiles(cert, key) if cert and key else None)


async def serve_api(sources: ApiSources, config: ApiConfig, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve the API until cancelled; ``started()`` gets the bound port."""
    if config.tls is not None:
        try:
            config.tls.context()
        except ValueError as exc:
            raise ConfigError(f"--api-tls-cert/--api-tls-key: {exc}") from None
    app = build_app(sources, token=config.token, audit=AuditLog(config.audit_path), cors=config.cors)
    await serve_asgi(app, config.host, config.port, limits=config.limits, tls=config.tls, what="the API (--api)",
                     task_status=task_status)
