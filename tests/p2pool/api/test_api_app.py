"""The API's read endpoints, OpenAPI description, pages, headers, CORS and bounds, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import trio

from p2pool.api import PROMETHEUS_CONTENT_TYPE, ApiSources
from p2pool.metrics import NodeMetrics
from tests.p2pool.api.apiserver import TOKEN, start_api

READ_PATHS = ["/api/health/detailed", "/api/stats", "/api/stats/history", "/api/workers", "/api/peers", "/api/shares",
              "/api/shares/{share_hash}", "/api/payouts", "/api/blocks", "/api/miner/{address}"]
ADMIN_PATHS = ["/api/peers/connect", "/api/peers/disconnect", "/api/peers/ban", "/api/peers/unban",
               "/api/mining/start", "/api/mining/stop", "/api/p2p/connect", "/api/p2p/disconnect", "/api/backup"]


class NodeState:
    """What the sources read: changed by the test as a node's state would change."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.shares = 3
        self.metrics = NodeMetrics()

    def status(self) -> dict[str, Any]:
        return {"network": "devnet", "sharechain": {"shares": self.shares}, "problems": self.problems}

    def sources(self) -> ApiSources:
        return ApiSources(status=self.status, problems=lambda: self.problems, metrics=self.metrics.render)


@pytest.fixture
async def api(nursery: trio.Nursery, tmp_path) -> tuple[str, NodeState]:
    state = NodeState()
    return await start_api(nursery, state.sources(), tmp_path), state


async def test_health_is_200_when_healthy_and_503_with_the_problems(api: tuple[str, NodeState]) -> None:
    url, state = api
    async with httpx.AsyncClient(base_url=url) as client:
        healthy = await client.get("/api/health")
        state.problems.append("bitcoind at http://127.0.0.1:1/ is unavailable")
        unhealthy = await client.get("/api/health")
    assert (healthy.status_code, healthy.json()) == (200, {"status": "ok", "problems": []})
    assert unhealthy.status_code == 503
    assert unhealthy.json() == {"status": "unhealthy", "problems": ["bitcoind at http://127.0.0.1:1/ is unavailable"]}


async def test_status_and_metrics(api: tuple[str, NodeState]) -> None:
    url, state = api
    state.metrics.shares_valid.inc(7)
    async with httpx.AsyncClient(base_url=url) as client:
        status = await client.get("/api/status")
        state.shares = 4
        later = await client.get("/api/status")
        metrics = await client.get("/metrics")
        head = await client.head("/api/status")
    assert status.headers["content-type"] == "application/json"
    assert status.json()["sharechain"] == {"shares": 3} and later.json()["sharechain"] == {"shares": 4}
    assert metrics.headers["content-type"] == PROMETHEUS_CONTENT_TYPE
    assert "otedama_shares_valid_total 7.0" in metrics.text
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0


async def test_errors_are_json(api: tuple[str, NodeState]) -> None:
    url, _ = api
    async with httpx.AsyncClient(base_url=url) as client:
        missing = await client.get("/api/nothing")
        wrong_method = await client.post("/api/status")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no such endpoint /api/nothing", "docs": "/api/docs"}
    assert wrong_method.status_code == 405 and wrong_method.json() == {"error": "Method Not Allowed"}


async def test_openapi_describes_every_endpoint_and_the_token(api: tuple[str, NodeState]) -> None:
    url, _ = api
    async with httpx.AsyncClient(base_url=url) as client:
        spec = (await client.get("/api/openapi.json")).json()
    assert spec["info"]["title"] == "Otedama node API"
    assert set(spec["paths"]) == {"/api/health", "/api/status", "/metrics", "/api/events", *READ_PATHS, *ADMIN_PATHS}
    assert spec["components"]["securitySchemes"]["token"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["token"]["description"]}
    for path in ADMIN_PATHS:
        assert spec["paths"][path]["post"]["security"] == [{"token": []}], path
    assert "security" not in spec["paths"]["/api/status"]["get"]
    assert set(spec["paths"]["/api/peers/ban"]["post"]["responses"]) >= {"200", "400", "401", "409", "422"}


async def test_pages_and_their_assets_come_from_the_node(api: tuple[str, NodeState]) -> None:
    url, _ = api
    async with httpx.AsyncClient(base_url=url) as client:
        for page in ("/api/docs", "/"):
            html = await client.get(page)
            assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
            assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
            assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
            for asset in assets:
                reply = await client.get(asset)
                assert reply.status_code == 200, asset
                kind = {"js": "javascript", "css": "text/css", "svg": "image/svg+xml"}.get(asset.rsplit(".", 1)[-1])
                assert kind is None or kind in reply.headers["content-type"], (asset, reply.headers["content-type"])
        licence = await client.get("/static/vendor/swagger-ui/LICENSE")
        uplot_licence = await client.get("/static/vendor/uplot/LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text
    assert uplot_licence.status_code == 200 and "MIT" in uplot_licence.text


async def test_read_endpoints_of_an_app_without_views_say_so(api: tuple[str, NodeState]) -> None:
    url, _ = api
    async with httpx.AsyncClient(base_url=url) as client:
        replies = [await client.get(path.replace("{share_hash}", "00" * 32).replace("{address}", "x"))
                   for path in READ_PATHS]
    assert [r.status_code for r in replies] == [409] * len(READ_PATHS)
    assert replies[0].json() == {"error": "not available on this node"}


async def test_security_headers(api: tuple[str, NodeState]) -> None:
    url, _ = api
    async with httpx.AsyncClient(base_url=url) as client:
        reply = await client.get("/")
    assert "default-src 'self'" in reply.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"


async def test_cors_is_off_by_default(api: tuple[str, NodeState]) -> None:
    url, _ = api
    async with httpx.AsyncClient(base_url=url) as client:
        reply = await client.get("/api/status", headers={"origin": "https://example.org"})
        preflight = await client.options("/api/peers/ban", headers={
            "origin": "https://example.org", "access-control-request-method": "POST"})
    assert reply.status_code == 200 and "access-control-allow-origin" not in reply.headers
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_allows_the_configured_origins_only(nursery: trio.Nursery, tmp_path) -> None:
    url = await start_api(nursery, NodeState().sources(), tmp_path, cors=("https://pool.example.org",))
    async with httpx.AsyncClient(base_url=url) as client:
        allowed = await client.get("/api/status", headers={"origin": "https://pool.example.org"})
        other = await client.get("/api/status", headers={"origin": "https://evil.example.com"})
        preflight = await client.options("/api/peers/ban", headers={
            "origin": "https://pool.example.org", "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type"})
    assert allowed.headers["access-control-allow-origin"] == "https://pool.example.org"
    assert "access-control-allow-origin" not in other.headers
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()


async def test_oversized_bodies_and_headers_are_refused(api: tuple[str, NodeState]) -> None:
    url, _ = api
    auth = {"authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url) as client:
        body = await client.post("/api/peers/connect", content=b"{" + b" " * (64 * 1024) + b"}", headers=auth)
        headers = await client.get("/api/status", headers={"x-filler": "a" * (17 * 1024)})
    assert body.status_code == 413 and body.json() == {"error": "request body over 65536 bytes"}
    assert headers.status_code == 431


async def test_a_client_over_its_request_rate_gets_429(nursery: trio.Nursery, tmp_path) -> None:
    url = await start_api(nursery, NodeState().sources(), tmp_path, limits={"rate": 0.1, "burst": 5})
    async with httpx.AsyncClient(base_url=url) as client:
        codes = [(await client.get("/api/status")).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
