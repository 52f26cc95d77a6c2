"""The node's HTTP API as a Starlette app: health, status, Prometheus metrics, the read, admin and live
routes, the OpenAPI description (``/api/openapi.json``, built once from the routes' declarations) with
its docs page (``/api/docs``), and the dashboard (``/``), every page asset served from ``static/`` (no CDN).

Errors are JSON ``{"error": message}`` everywhere. CORS is off unless origins are configured.

(Starlette, not FastAPI over it: FastAPI and pydantic cost the node ~19 MB of memory at import, an
eighth of what 10,000 miners may take; the routes declare their bounds in :mod:`p2pool.api.params`.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from p2pool.api import admin, backup, live, reads
from p2pool.api.admin import AdminActions
from p2pool.api.audit import AuditLog
from p2pool.api.auth import SECURITY_SCHEMES
from p2pool.api.backup import BackupMaker
from p2pool.api.live import LiveFeed
from p2pool.api.models import SCHEMAS
from p2pool.api.reads import ReadViews
from p2pool.api.routes import Operation, Reply, openapi
from p2pool.api.schema import ref
from p2pool.api.security import SecurityHeaders

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATIC = Path(__file__).resolve().parent / "static"
_DESCRIPTION = ("A peer-to-peer Bitcoin mining pool node. Admin endpoints need the node's API token as a bearer "
                "token (the file `api-token` in its datadir). Live messages: the WebSocket `/api/ws` (one JSON text "
                "frame each) or the server-sent events of `/api/events`.")


@dataclass(frozen=True)
class ApiSources:
    """What the API reads and does; the composition root builds it from the node's parts."""

    status: Callable[[], Mapping[str, Any]]
    problems: Callable[[], Sequence[str]]
    metrics: Callable[[], bytes]
    admin: AdminActions = field(default_factory=AdminActions)
    feed: LiveFeed = field(default_factory=LiveFeed)
    # Makes a snapshot of the node and returns the tar file to send (None: this node cannot).
    backup: BackupMaker | None = None
    views: ReadViews | None = None  # the read endpoints' documents (None: they answer 409)


def _sources(request: Request) -> ApiSources:
    sources: ApiSources = request.app.state.sources
    return sources


async def health(request: Request) -> Response:
    """``{"status": "ok" | "unhealthy", "problems": [...]}``: 200 when healthy, 503 when not."""
    problems = list(_sources(request).problems())
    return JSONResponse({"status": "unhealthy" if problems else "ok", "problems": problems}, 503 if problems else 200)


async def status(request: Request) -> Response:
    """The node at a glance: network, chain, sharechain, miners, peers."""
    return JSONResponse(dict(_sources(request).status()))


async def metrics(request: Request) -> Response:
    """Prometheus metrics, text format 0.0.4."""
    return Response(_sources(request).metrics(), media_type=PROMETHEUS_CONTENT_TYPE)


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/api/health", health, ("node",), {200: Reply("healthy", ref("Health")),
                                                        503: Reply("unhealthy: see problems", ref("Health"))}),
    Operation("GET", "/api/status", status, ("node",), {200: Reply("OK", ref("Status"))}),
    Operation("GET", "/metrics", metrics, ("node",), {200: Reply("OK", media=PROMETHEUS_CONTENT_TYPE)}),
    *reads.OPERATIONS,
    *admin.OPERATIONS,
    backup.OPERATION,
    live.EVENTS,
)


def description() -> dict[str, Any]:
    """The OpenAPI document of every operation."""
    return openapi(OPERATIONS, title="Otedama node API", version=_version(), description=_DESCRIPTION,
                   schemas=SCHEMAS, security=SECURITY_SCHEMES)


def build_app(sources: ApiSources, *, token: str, audit: AuditLog, cors: Sequence[str] = ()) -> Any:
    """The ASGI app (Starlette wrapped in its middleware); its routes find their parts in ``app.state``."""
    document = json.dumps(description(), separators=(",", ":")).encode()

    async def openapi_json(request: Request) -> Response:
        return Response(document, media_type="application/json")

    async def docs(request: Request) -> Response:
        return FileResponse(STATIC / "docs.html")

    async def dashboard(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    routes: list[BaseRoute] = [operation.route() for operation in OPERATIONS]
    routes += [live.WEBSOCKET, Route("/api/openapi.json", openapi_json), Route("/api/docs", docs),
               Route("/", dashboard), Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _internal_error})
    app.state.sources = sources
    app.state.admin_actions = sources.admin
    app.state.feed = sources.feed
    app.state.backup = sources.backup
    app.state.views = sources.views
    app.state.api_token = token
    app.state.audit = audit
    wrapped: Any = SecurityHeaders(app)
    if cors:
        wrapped = CORSMiddleware(wrapped, allow_origins=list(cors), allow_methods=["GET", "HEAD", "POST"],
                                 allow_headers=["authorization", "content-type"], max_age=600)
    return wrapped


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    body: dict[str, Any] = {"error": str(exc.detail)}
    if exc.status_code == 404:
        body["error"] = f"no such endpoint {request.url.path}"
        body["docs"] = "/api/docs"
    return JSONResponse(body, exc.status_code, headers=dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A route that failed answers in JSON like every other error (the server logs the traceback)."""
    return JSONResponse({"error": "internal error (the node's log has the details)"}, 500)


def _version() -> str:
    try:
        return metadata.version("otedama")
    except metadata.PackageNotFoundError:
        return "0"

