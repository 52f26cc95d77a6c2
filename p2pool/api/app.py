"""The node's HTTP API as a FastAPI app: health, status, Prometheus metrics, the admin and live routes,
the OpenAPI description (``/api/openapi.json``) with its docs page (``/api/docs``), and the dashboard
(``/``), every page asset served from ``static/`` (no CDN).

Errors are JSON ``{"error": message}`` everywhere. CORS is off unless origins are configured.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from p2pool.api import admin, backup, live, models, reads
from p2pool.api.admin import AdminActions
from p2pool.api.audit import AuditLog
from p2pool.api.backup import BackupMaker
from p2pool.api.live import LiveFeed
from p2pool.api.reads import ReadViews
from p2pool.api.security import SecurityHeaders

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATIC = Path(__file__).resolve().parent / "static"
Endpoint = Callable[..., Awaitable[Response]]
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


router = APIRouter()


def _sources(request: Request) -> ApiSources:
    sources: ApiSources = request.app.state.sources
    return sources


def _get(path: str, **kwargs: Any) -> Callable[[Endpoint], Endpoint]:
    """A GET route that answers HEAD too (HEAD stays out of the OpenAPI description)."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=["GET"], **kwargs)
        router.add_api_route(path, endpoint, methods=["HEAD"], **{**kwargs, "include_in_schema": False})
        return endpoint

    return register


@_get("/api/health", tags=["node"], response_model=models.Health,
      responses={200: {"description": "healthy"}, 503: {"description": "unhealthy: see problems", "model": models.Health}})
async def health(request: Request) -> JSONResponse:
    """``{"status": "ok" | "unhealthy", "problems": [...]}``: 200 when healthy, 503 when not."""
    problems = list(_sources(request).problems())
    return JSONResponse({"status": "unhealthy" if problems else "ok", "problems": problems}, 503 if problems else 200)


@_get("/api/status", tags=["node"], response_model=models.Status)
async def status(request: Request) -> JSONResponse:
    """The node at a glance: network, chain, sharechain, miners, peers."""
    return JSONResponse(dict(_sources(request).status()))


@_get("/metrics", tags=["node"], response_class=Response, responses={200: {"content": {PROMETHEUS_CONTENT_TYPE: {}}}})
async def metrics(request: Request) -> Response:
    """Prometheus metrics, text format 0.0.4."""
    return Response(_sources(request).metrics(), media_type=PROMETHEUS_CONTENT_TYPE)


@_get("/api/docs", include_in_schema=False)
async def docs() -> FileResponse:
    return FileResponse(STATIC / "docs.html")


@_get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    return FileResponse(STATIC / "index.html")


def build_app(sources: ApiSources, *, token: str, audit: AuditLog, cors: Sequence[str] = ()) -> Any:
    """The ASGI app (FastAPI wrapped in its middleware); its routes find their parts in ``app.state``."""
    app = FastAPI(title="Otedama node API", version=_version(), openapi_url="/api/openapi.json", docs_url=None,
                  redoc_url=None, description=_DESCRIPTION)
    app.state.sources = sources
    app.state.admin_actions = sources.admin
    app.state.feed = sources.feed
    app.state.backup = sources.backup
    app.state.views = sources.views
    app.state.api_token = token
    app.state.audit = audit
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.include_router(router)
    app.include_router(reads.router)
    app.include_router(admin.router)
    app.include_router(backup.router)
    app.include_router(live.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    wrapped: Any = SecurityHeaders(app)
    if cors:
        wrapped = CORSMiddleware(wrapped, allow_origins=list(cors), allow_methods=["GET", "HEAD", "POST"],
                                 allow_headers=["authorization", "content-type"], max_age=600)
    return wrapped


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    body: dict[str, Any] = {"error": str(exc.detail)}
    if exc.status_code == 404:
        body["error"] = f"no such endpoint {request.url.path}"
        body["docs"] = "/api/docs"
    return JSONResponse(body, exc.status_code, headers=dict(exc.headers or {}))


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = [{"where": ".".join(str(part) for part in error.get("loc", ())), "problem": error.get("msg", "")}
               for error in exc.errors()]
    return JSONResponse({"error": "invalid request", "details": details}, 422)


def _version() -> str:
    try:
        return metadata.version("otedama")
    except metadata.PackageNotFoundError:
        return "0"
