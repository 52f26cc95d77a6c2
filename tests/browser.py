"""Headless Chromium for tests, driven by Selenium through Debian's chromedriver (scripts/install.sh).

The ``browser`` fixture gives a :class:`Browser`: ``open(url)``, ``wait_for(condition)``,
``console_errors()`` (everything the page logged at error level: console.error, uncaught
exceptions, failed loads, CSP violations) and ``screenshot(name)``, which saves a PNG under
``tests/artifacts/`` (or ``$OTEDAMA_ARTIFACTS``) and prints its path. Chromium may reach only
127.0.0.1: every other host name fails to resolve and its background services are off.

The fixture skips only when Chromium cannot run here at all (not installed, or it cannot start a
headless page); under CI (``CI`` set) that is a failure instead, since install.sh installs it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.functional.framework import REPO, TIMEOUT_FACTOR

T = TypeVar("T")
ARTIFACTS = Path(os.environ.get("OTEDAMA_ARTIFACTS", REPO / "tests" / "artifacts"))
_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--no-pings", "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@functools.cache
def _chromium() -> tuple[str, str] | str:
    """(chromium, chromedriver) paths, or why Chromium cannot run here."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        return "chromium or chromedriver is not installed (scripts/install.sh installs Debian's packages)"
    try:
        probe = subprocess.run([chromium, *_FLAGS, "--dump-dom", "data:text/html,<p>chromium-ok</p>"],
                               check=False, capture_output=True, text=True, timeout=60 * TIMEOUT_FACTOR)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"chromium does not start: {exc}"
    if "chromium-ok" not in probe.stdout:
        return f"chromium cannot render a page here: {probe.stderr.strip()[-500:]}"
    return chromium, driver


class Browser:
    def __init__(self, driver: Any, name: str) -> None:
        self.driver = driver
        self.name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        self._errors: list[str] = []

    def open(self, url: str) -> None:
        self.driver.get(url)

    def wait_for(self, condition: Callable[[Any], T], what: str, timeout: float = 30) -> T:
        """Poll ``condition(driver)`` until it is truthy; fail naming ``what`` (and the console errors)."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout * TIMEOUT_FACTOR, poll_frequency=0.1).until(condition)
        except TimeoutException:
            self.screenshot("timeout")
            raise AssertionError(f"timed out waiting for {what}; console errors: {self.console_errors()}") from None

    def text(self, selector: str) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.CSS_SELECTOR, selector).text)

    def script(self, source: str) -> Any:
        return self.driver.execute_script(source)

    def console_errors(self) -> list[str]:
        """Every error-level entry of the page's log so far."""
        for entry in self.driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                self._errors.append(f"{entry.get('source', '?')}: {entry.get('message', '')}")
        return list(self._errors)

    def screenshot(self, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    found = _chromium()
    if isinstance(found, str):
        if os.environ.get("CI"):
            pytest.fail(found)
        pytest.skip(found)
    chromium, chromedriver = found
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for flag in _FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(60 * TIMEOUT_FACTOR)
    try:
        yield Browser(driver, request.node.name)
    finally:
        driver.quit()
