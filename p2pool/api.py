"""The node's HTTP API: ``/api/health``, ``/api/status`` and Prometheus ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from p2pool.http.server import Request, Response
from p2pool.metrics import NodeMetrics

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Api:
    def __init__(self, status: Callable[[], dict[str, Any]], problems: Callable[[], list[str]],
                 metrics: NodeMetrics) -> None:
        self._status = status
        self._problems = problems
        self._metrics = metrics

    async def handle(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response.json({"error": "method not allowed"}, status=405)
        if request.path == "/api/health":
            problems = self._problems()
            body = {"status": "unhealthy" if problems else "ok", "problems": problems}
            return Response.json(body, status=503 if problems else 200)
        if request.path == "/api/status":
            return Response.json(self._status())
        if request.path == "/metrics":
            return Response(200, self._metrics.render(), PROMETHEUS_CONTENT_TYPE)
        return Response.json({"error": f"no such endpoint {request.path}",
                              "endpoints": ["/api/health", "/api/status", "/metrics"]}, status=404)
