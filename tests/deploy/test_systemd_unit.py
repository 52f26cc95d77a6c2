"""deploy/otedama.service: hardened as the issue asks, and clean under ``systemd-analyze verify``."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.promql import DEPLOY

UNIT = DEPLOY / "otedama.service"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def test_the_unit_is_hardened_and_waits_for_the_node_to_be_ready():
    unit = service()
    assert unit["Type"] == "notify" and unit["NotifyAccess"] == "main"
    assert unit["User"] == "otedama" and unit["StateDirectory"] == "otedama"
    assert unit["ProtectSystem"] == "strict" and unit["NoNewPrivileges"] == "yes"
    assert int(unit["LimitNOFILE"]) >= 16384
    assert unit["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert "WatchdogSec" in unit
    assert "MemoryDenyWriteExecute" not in unit  # Numba compiles kernels at run time
    assert "OTEDAMA_HOME=/var/lib/otedama" in UNIT.read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not available here")
def test_systemd_analyze_verify_finds_nothing(tmp_path):
    # The unit as installed names /opt/otedama; here its command is this checkout's, which must exist.
    otedama = Path(sys.executable).with_name("otedama")
    assert otedama.exists()
    text = UNIT.read_text().replace("/opt/otedama/.venv/bin/otedama", str(otedama))
    path = tmp_path / "otedama.service"
    path.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result.stderr
    path.write_text(text.replace("[Service]", "[Service]\nNoSuchSetting=1"))
    result = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert "NoSuchSetting" in result.stderr  # what the check above would have seen
