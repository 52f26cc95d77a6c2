"""The node's pages in a real headless Chromium against a real mining node (two miners, real TCP):
the docs page renders every endpoint from the node's own assets; the dashboard's numbers match the
API, new shares and found blocks appear without a reload, the miner lookup shows that miner's shares
on a phone-sized screen; no console errors; screenshots under tests/artifacts/."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import Browser
from tests.functional.pool import ADDRESS_B, Pool, mining_pool


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    with mining_pool(tmp_path_factory.mktemp("browser"), seed=False) as running:
        yield running


def api(pool: Pool, path: str) -> Any:
    with urllib.request.urlopen(pool.api + path, timeout=10) as reply:
        return json.loads(reply.read())


def short(text: str, keep: int = 10) -> str:
    return f"{text[:keep]}…{text[-keep:]}"


def column(browser: Browser, table: str, index: int) -> list[str]:
    return list(browser.script(f"return [...document.querySelectorAll('#{table} tbody tr')]"
                               f".map(r => r.children[{index}].textContent)"))


def test_docs_page_lists_every_endpoint_with_no_console_errors(pool: Pool, browser: Browser) -> None:
    documented = set(api(pool, "/api/openapi.json")["paths"])
    assert {"/api/health", "/api/status", "/metrics", "/api/peers/ban", "/api/mining/start", "/api/events",
            "/api/stats", "/api/payouts", "/api/miner/{address}"} <= documented
    browser.open(f"{pool.api}/api/docs")
    shown = browser.wait_for(
        lambda d: (paths := set(d.execute_script(
            "return [...document.querySelectorAll('.opblock-summary-path')].map(e => e.dataset.path)"))) >= documented
        and paths, "Swagger UI to list the endpoints")
    assert shown == documented
    assert "Otedama node API" in browser.text(".info .title")
    browser.screenshot("docs")
    loaded = browser.script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(f"{pool.api}/") for url in loaded), loaded
    assert browser.console_errors() == []


def test_dashboard_matches_the_api_and_shows_new_shares_and_blocks_live(pool: Pool, browser: Browser) -> None:
    browser.open(f"{pool.api}/")
    browser.wait_for(lambda d: browser.text("#live") == "live", "the live feed to connect")
    browser.script("window.notReloaded = true")
    status = api(pool, "/api/status")
    assert browser.text("#network") == status["network"] == "devnet"
    browser.wait_for(lambda d: browser.text("#health") == "healthy", "the health badge")
    # Both move while the miners work: wait for an instant where page and API agree.
    browser.wait_for(lambda d: browser.text("#shares") == str(api(pool, "/api/status")["sharechain"]["shares"]),
                     "the share count to match /api/status")
    browser.wait_for(lambda d: browser.text("#blocks") == str(api(pool, "/api/stats")["blocks_found"]),
                     "the blocks found to match /api/stats")
    browser.wait_for(lambda d: browser.text("#window").split(" / ")[0] == str(api(pool, "/api/stats")["window"]["shares"]),
                     "the window to match /api/stats")
    browser.wait_for(lambda d: column(browser, "payouts", 0) == [short(o["address"], 8) for o in
                                                                   api(pool, "/api/payouts")["outputs"]],
                     "the next block's payouts to match /api/payouts")
    assert browser.text("#stratum-url") == f"stratum+tcp://127.0.0.1:{pool.node.stratum_port}"
    assert browser.text("#miners") == "2"

    top, listed = int(column(browser, "share-list", 0)[0]), set(column(browser, "share-list", 1))
    # A share that arrived just before the list was read is still marked new: wait for one after it.
    new_row = browser.wait_for(lambda d: next((h for h in d.execute_script(
        "return [...document.querySelectorAll('#share-list tbody tr.new')].map(r => r.dataset.hash)")
        if short(h) not in listed), None), "a new share to appear")
    assert int(api(pool, f"/api/shares/{new_row}")["height"]) >= top
    blocks = api(pool, "/api/blocks?limit=1")["items"][0]["hash"]
    newest = browser.wait_for(lambda d: (first := column(browser, "block-list", 1)[:1]) and first[0] != short(blocks)
                              and first[0], "a new found block to appear")
    assert newest in [short(b["hash"]) for b in api(pool, "/api/blocks?limit=5")["items"]]
    assert browser.script("return window.notReloaded === true")
    browser.screenshot("dashboard")
    assert browser.console_errors() == []


def test_miner_lookup_shows_that_miners_shares_on_a_phone(pool: Pool, browser: Browser) -> None:
    browser.driver.set_window_size(390, 844)
    browser.open(f"{pool.api}/")
    browser.wait_for(lambda d: browser.text("#live") == "live", "the live feed to connect")
    field = browser.driver.find_element("css selector", "#lookup-address")
    field.send_keys(ADDRESS_B)
    browser.driver.find_element("css selector", "#lookup button").click()
    browser.wait_for(lambda d: browser.text("#miner-address") == ADDRESS_B and column(browser, "miner-share-list", 1),
                     "the miner's page")
    shown = column(browser, "miner-share-list", 1)
    mine = {short(s["hash"]) for s in api(pool, f"/api/shares?address={ADDRESS_B}&limit=200")["items"]}
    others = {short(s["hash"]) for s in api(pool, "/api/shares?limit=200")["items"]} - mine
    assert shown and set(shown) <= mine and not set(shown) & others
    miner = api(pool, f"/api/miner/{ADDRESS_B}")
    assert column(browser, "miner-workers", 0) == [short(w["name"], 12) for w in miner["workers"]]
    assert browser.text("#miner-uncles") == str(miner["window"]["uncles"])
    assert browser.script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.screenshot("miner-phone")
    assert browser.console_errors() == []


def test_the_fixture_sees_console_errors(pool: Pool, browser: Browser) -> None:
    browser.open(f"{pool.api}/static/missing.js")
    errors = browser.wait_for(lambda d: browser.console_errors(), "the failed load to be logged")
    assert any("404" in error for error in errors), errors
