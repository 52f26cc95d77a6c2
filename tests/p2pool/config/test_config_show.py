"""``otedama config show``: every key, where it came from, secrets redacted, and valid TOML that
loads back to the same configuration."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from p2pool.config import ConfigError, load_config
from p2pool.config.options import OPTIONS, DefaultContext
from p2pool.config.origin import Layer
from p2pool.config.render import render_toml
from p2pool.config.values import REDACTED
from sharechain.params import REGTEST

PEER = "/ip4/127.0.0.1/tcp/9338/p2p/12D3KooWJdrweqGHMChAkt6amrCX71feRRYmfUBPGKLtmE82yn5b"
# A value other than the default for every option, spread over the three sources.
FILE = f'''network = "regtest"
bitcoind = "http://127.0.0.1:18443/"
payout_address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
stratum = "127.0.0.1:4000"
api = "[::1]:4001"
p2p = ["/ip4/127.0.0.1/tcp/4002", "/ip6/::1/tcp/4003"]
bootstrap = ["{PEER}"]
miner_threads = 3
miner_opencl = true
api_cors = ["https://pool.example.org"]
announce = ["/ip4/203.0.113.5/tcp/4002"]
max_per_ip = 2
api_tls_cert = "/etc/otedama/cert.pem"
api_tls_key = "/etc/otedama/key.pem"
stratum_tls = "127.0.0.1:4004"
stratum_tls_cert = "/etc/otedama/stratum.pem"
stratum_tls_key = "/etc/otedama/stratum.key"
stratum_max_workers = 16
stratum_processes = 2
stratum_allow = ["10.1.0.0/16", "2001:db8::/32"]
stratum_auth_timeout = 12.5
stratum_ban_seconds = 3600
log_format = "json"
notify_webhook = "https://hooks.example.org"
notify_command = "/usr/local/bin/otedama-notify --all"
'''
ENV = {"OTEDAMA_DEVCHAIN": "yes", "OTEDAMA_DEVCHAIN_BITS": "1d00ffff", "OTEDAMA_STRATUM_DIFFICULTY": "0.25",
       "OTEDAMA_STRATUM_SUBMIT_INTERVAL": "2.5", "OTEDAMA_NO_MINER": "1", "OTEDAMA_REINDEX": "true",
       "OTEDAMA_NO_SEEDS": "true", "OTEDAMA_MAX_OUTBOUND": "3", "OTEDAMA_LOG_FILE_MAX_MB": "7",
       "OTEDAMA_LOG_FILE_BACKUPS": "2", "OTEDAMA_NOTIFY_WORKER_OFFLINE": "30",
       "OTEDAMA_STRATUM_MAX_PER_IP": "9", "OTEDAMA_STRATUM_SUBMIT_RATE": "12.5", "OTEDAMA_STRATUM_BAN_STRIKES": "7"}
ARGV = {"max_per_subnet": "5", "no_dht": "true", "stratum_idle_timeout": "120", "stratum_submit_burst": "30",
        "max_inbound": "4", "mine_while_syncing": "true", "log_level": "debug", "no_p2p": "false"}


def _everything(tmp_path):
    path = tmp_path / "in.toml"
    path.write_text(FILE)
    (tmp_path / "seeds.txt").write_text(f"{PEER}\n")
    argv = {**ARGV, "datadir": str(tmp_path / "data"), "bitcoind_cookie": str(tmp_path / ".cookie"),
            "seed_file": str(tmp_path / "seeds.txt"),
            "api_token_file": str(tmp_path / "token"), "log_file": str(tmp_path / "otedama.log")}
    return path, load_config(config_file=path, environ=ENV, argv=argv)


def test_every_key_round_trips_through_a_toml_file(tmp_path):
    _, resolved = _everything(tmp_path)
    context = DefaultContext(REGTEST, Path("~/.otedama").expanduser())
    # Every option given, and (but for no_p2p = false) not as its default; but api_token, a secret that
    # show redacts and the other way of giving what api_token_file gives (tested on its own below).
    for option in (o for o in OPTIONS if o.name != "api_token"):
        assert resolved.origins[option.name].layer is not Layer.DEFAULT, option.name
        default = option.default_for(context)
        default = None if default is None else option.kind.parse(default, False)
        assert option.name == "no_p2p" or getattr(resolved.config, option.name) != default, option.name
    text = render_toml(resolved)
    assert set(tomllib.loads(text)) == {option.name for option in OPTIONS} - {"api_token"}  # unset: a comment
    shown = tmp_path / "shown.toml"
    shown.write_text(text)
    again = load_config(config_file=shown)
    assert again.config == resolved.config
    assert all(str(origin) == f"file {shown}" for name, origin in again.origins.items() if name != "api_token")


def test_unset_values_are_comments_and_load_back_as_unset(tmp_path):
    resolved = load_config(environ={"OTEDAMA_HOME": str(tmp_path)})
    text = render_toml(resolved)
    assert "# bitcoind is not set (default)" in text and "# payout_address is not set (default)" in text
    shown = tmp_path / "shown.toml"
    shown.write_text(text)
    assert load_config(config_file=shown).config == resolved.config


def test_each_line_says_where_its_value_came_from(tmp_path):
    path, resolved = _everything(tmp_path)
    lines = {line.split(" = ")[0]: line for line in render_toml(resolved).splitlines() if " = " in line}
    assert lines["miner_threads"] == f"miner_threads = 3  # file {path}"
    assert lines["max_outbound"] == "max_outbound = 3  # env OTEDAMA_MAX_OUTBOUND"
    assert lines["max_inbound"] == "max_inbound = 4  # command line --max-inbound"
    assert lines["devchain_bits"] == 'devchain_bits = "1d00ffff"  # env OTEDAMA_DEVCHAIN_BITS'
    assert load_config().origins["stratum"].layer is Layer.DEFAULT
    assert 'stratum = "0.0.0.0:3333"  # default on devnet' in render_toml(load_config())


def test_the_rpc_password_is_redacted_and_not_taken_back_silently(tmp_path):
    resolved = load_config(argv={"bitcoind": "http://alice:hunter2@127.0.0.1:8332"})
    text = render_toml(resolved)
    assert "hunter2" not in text
    assert f'bitcoind = "http://alice:{REDACTED}@127.0.0.1:8332"  # command line --bitcoind; secret redacted' in text
    shown = tmp_path / "shown.toml"
    shown.write_text(text)
    with pytest.raises(ConfigError, match=f"config file {shown}: bitcoind = .*the password was redacted"):
        load_config(config_file=shown)


def test_the_api_token_is_redacted_and_not_taken_back_silently(tmp_path):
    resolved = load_config(environ={"OTEDAMA_API_TOKEN": "s3cret-admin-token-0123"})
    text = render_toml(resolved)
    assert "s3cret" not in text and f'api_token = "{REDACTED}"' in text
    shown = tmp_path / "shown.toml"
    shown.write_text(text)
    with pytest.raises(ConfigError, match=r"api_token = .*the token was redacted"):
        load_config(config_file=shown)


def test_strings_with_quotes_and_control_characters_stay_valid_toml(tmp_path):
    odd = tmp_path / 'a "quoted"\\dir\twith\x7fodd'
    resolved = load_config(argv={"datadir": str(odd)})
    assert tomllib.loads(render_toml(resolved))["datadir"] == str(odd)
