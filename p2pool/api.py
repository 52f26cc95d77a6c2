"""The node's HTTP API: ``/api/health``, ``/api/status``, Prometheus ``/metrics`` and, for local
operators and tests only, ``POST /api/p2p/connect`` and ``POST /api/p2p/disconnect``."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from p2pool.http.server import Request, Response
from p2pool.metrics import NodeMetrics

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# (action, argument) -> (ok, message); action is "connect" (a peer multiaddr) or "disconnect" (a peer ID).
PeerControl = Callable[[str, str], Awaitable[tuple[bool, str]]]
_ENDPOINTS = ["/api/health", "/api/status", "/metrics", "POST /api/p2p/connect", "POST /api/p2p/disconnect"]


class Api:
    def __init__(self, status: Callable[[], dict[str, Any]], problems: Callable[[], list[str]],
                 metrics: NodeMetrics, peer_control: PeerControl | None = None) -> None:
        self._status = status
        self._problems = problems
        self._metrics = metrics
        self._peer_control = peer_control

    async def handle(self, request: Request) -> Response:
        if request.method == "POST" and request.path in ("/api/p2p/connect", "/api/p2p/disconnect"):
            return await self._control(request)
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
        return Response.json({"error": f"no such endpoint {request.path}", "endpoints": _ENDPOINTS}, status=404)

    async def _control(self, request: Request) -> Response:
        """Peer control is for the operator on this machine: refused to any non-loopback client."""
        if not _is_loopback(request.remote):
            return Response.json({"error": "peer control is only allowed from this machine"}, status=403)
        if self._peer_control is None:
            return Response.json({"error": "this node runs without P2P"}, status=409)
        try:
            argument = request.body.decode("ascii").strip()
        except UnicodeDecodeError:
            argument = ""
        if not argument:
            return Response.json({"error": "send the peer multiaddr (connect) or peer ID (disconnect) as the body"},
                                 status=400)
        ok, message = await self._peer_control(request.path.rsplit("/", 1)[1], argument)
        return Response.json({"ok": ok, "message": message}, status=200 if ok else 400)


def _is_loopback(remote: str) -> bool:
    host = remote.rsplit(":", 1)[0].strip("[]")  # "HOST:PORT", HOST possibly IPv6
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
