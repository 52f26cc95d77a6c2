"""The API's options, from the command line and the config file, reach ApiConfig."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from p2pool.api import api_config
from p2pool.config import load_config, node_config
from sharechain.params import DEVNET
from tests.functional.framework import REPO


def test_options_from_a_config_file(tmp_path: Path) -> None:
    file = tmp_path / "otedama.toml"
    file.write_text(f'api = "127.0.0.1:0"\napi-cors = "https://pool.example.org"\n'
                    f'api-token-file = "{tmp_path / "token"}"\napi-tls-cert = "{tmp_path / "c.pem"}"\n'
                    f'api-tls-key = "{tmp_path / "k.pem"}"\n')
    (tmp_path / "token").write_text("token-in-a-file-0123\n")
    config = load_config(config_file=file, environ={}, argv={"datadir": str(tmp_path)}).config
    api = api_config(config, tmp_path)
    assert api.cors == ("https://pool.example.org",)
    assert api.token == "token-in-a-file-0123"
    assert api.tls is not None and (api.tls.cert, api.tls.key) == (tmp_path / "c.pem", tmp_path / "k.pem")
    assert api.scheme == "https" and api.audit_path == tmp_path / "audit.log"


def test_defaults_make_a_token_and_keep_cors_off(tmp_path: Path) -> None:
    api = api_config(node_config(datadir=str(tmp_path)), tmp_path)
    assert (api.host, api.port, api.cors, api.tls) == ("127.0.0.1", DEVNET.default_api_port, (), None)
    assert api.token == (tmp_path / "api-token").read_text().strip()


def test_the_command_line_has_the_options() -> None:
    for command in ("run", "bootstrap"):
        text = subprocess.run([sys.executable, "-m", "p2pool", command, "--help"], cwd=REPO, capture_output=True,
                              text=True, check=True, timeout=60).stdout
        for option in ("--api-token", "--api-token-file", "--api-cors", "--api-tls-cert", "--api-tls-key"):
            assert option in text, (command, option)
