"""The node's pages in a real headless Chromium against a real node process (stored shares, no miner):
the docs page renders every endpoint from the node's own assets, the dashboard shows the node's
numbers on a phone-sized screen; no console errors; screenshots under tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser
from tests.functional.framework import NodeProcess
from tests.functional.sharegen import make_chain, store_shares

SHARES = 5


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    datadir: Path = tmp_path_factory.mktemp("browser") / "node"
    store_shares(datadir / "sharechain", make_chain(SHARES))
    process = NodeProcess(datadir, "--no-miner", "--no-p2p").start()
    try:
        yield process
    finally:
        process.stop()
        process.kill()


def test_docs_page_lists_every_endpoint_with_no_console_errors(node: NodeProcess, browser: Browser) -> None:
    documented = set(node.get("/api/openapi.json")["paths"])
    assert {"/api/health", "/api/status", "/metrics", "/api/peers/ban", "/api/mining/start", "/api/events"} <= documented
    browser.open(f"http://127.0.0.1:{node.api_port}/api/docs")
    shown = browser.wait_for(
        lambda d: (paths := set(d.execute_script(
            "return [...document.querySelectorAll('.opblock-summary-path')].map(e => e.dataset.path)"))) >= documented
        and paths, "Swagger UI to list the endpoints")
    assert shown == documented
    assert "Otedama node API" in browser.text(".info .title")
    browser.screenshot("docs")
    loaded = browser.script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(f"http://127.0.0.1:{node.api_port}/") for url in loaded), loaded
    assert browser.console_errors() == []


def test_dashboard_shows_the_nodes_network_and_shares_on_a_phone(node: NodeProcess, browser: Browser) -> None:
    browser.driver.set_window_size(390, 844)
    status = node.status()
    assert status["sharechain"]["shares"] == SHARES
    browser.open(f"http://127.0.0.1:{node.api_port}/")
    browser.wait_for(lambda d: browser.text("#shares") == str(SHARES), "the dashboard to show the share count")
    assert browser.text("#network") == status["network"] == "devnet"
    assert browser.text("#height") == str(status["sharechain"]["height"])
    assert browser.text("#health") == "healthy"
    assert browser.script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.screenshot("dashboard-phone")
    assert browser.console_errors() == []


def test_the_fixture_sees_console_errors(node: NodeProcess, browser: Browser) -> None:
    browser.open(f"http://127.0.0.1:{node.api_port}/static/missing.js")
    errors = browser.wait_for(lambda d: browser.console_errors(), "the failed load to be logged")
    assert any("404" in error for error in errors), errors
