"""The BSV fixture's download policy: skip when the node cannot be fetched, but fail under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import bsv


@pytest.fixture
def unfetchable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "fetch.sh"
    script.write_text("#!/bin/sh\necho 'no network' >&2\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setattr(bsv, "BSV_BINARY", tmp_path / "missing" / "bitcoind")
    monkeypatch.setattr(bsv, "FETCH_SCRIPT", script)


@pytest.mark.usefixtures("unfetchable")
def test_failed_download_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no network"):
        bsv.bsv_binary()


@pytest.mark.usefixtures("unfetchable")
def test_failed_download_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no network"):
        bsv.bsv_binary()
