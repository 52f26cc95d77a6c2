"""Runs the node's API in the node's nursery: ``await nursery.start(serve_api, sources, config)``.

:func:`api_config` reads the node's options (``--api``, ``--api-token``/``--api-token-file``,
``--api-cors``, ``--api-tls-cert``/``--api-tls-key``); a port that cannot be had, or TLS files that
cannot be loaded, end as one :class:`~p2pool.config.ConfigError` naming them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import trio

from p2pool.api.app import ApiSources, build_app
from p2pool.api.audit import AUDIT_FILE, AuditLog
from p2pool.api.auth import resolve_token
from p2pool.config import ConfigError, NodeConfig
from p2pool.http.limits import HttpLimits
from p2pool.http.serve import BindError, TlsFiles, serve_asgi

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
    """The API's settings from the node's; ``config.extra["api"]`` overrides :data:`API_LIMITS` fields (tests)."""
    host, port = config.api_endpoint()
    cert, key = config.api_tls_cert, config.api_tls_key
    if (cert is None) != (key is None):
        raise ConfigError("--api-tls-cert and --api-tls-key go together: give both for HTTPS, or neither")
    cors = config.api_cors
    origins = tuple([cors] if isinstance(cors, str) else cors or ())
    token_file = Path(config.api_token_file) if config.api_token_file else None
    return ApiConfig(host=host, port=port, token=resolve_token(datadir, config.api_token, token_file),
                     audit_path=datadir / AUDIT_FILE, cors=origins,
                     tls=TlsFiles(Path(cert), Path(key)) if cert and key else None,
                     limits=replace(API_LIMITS, **config.extra.get("api", {})))


async def serve_api(sources: ApiSources, config: ApiConfig, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve the API until cancelled; ``started()`` gets the bound port."""
    if config.tls is not None:
        try:
            config.tls.context()
        except ValueError as exc:
            raise ConfigError(f"--api-tls-cert/--api-tls-key: {exc}") from None
    app = build_app(sources, token=config.token, audit=AuditLog(config.audit_path), cors=config.cors)
    try:
        await serve_asgi(app, config.host, config.port, limits=config.limits, tls=config.tls, task_status=task_status)
    except BindError as exc:
        raise ConfigError(f"cannot listen for the API on {exc.host}:{exc.port}: {exc.reason} "
                          "(is another node running? choose another with --api)") from None
