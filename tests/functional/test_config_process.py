"""The configuration as a new user meets it, each case a real ``python -m p2pool`` process: a wrong
value or a start-up problem is one line naming the key, port or path, exit 2 (``config validate``: 1),
never a traceback; ``config show`` round-trips; ``--version`` and help tell the truth."""

from __future__ import annotations

import re
import socket
import subprocess
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.functional.framework import otedama

QUIET = ("--stratum", "127.0.0.1:0", "--api", "127.0.0.1:0", "--no-p2p", "--no-miner")


def refused(result: subprocess.CompletedProcess[str], *named: str, code: int = 2) -> str:
    """The one error line of a refused command, checked to name each of ``named``."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output and "client has been closed" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("otedama: error: ")]
    assert len(errors) == 1, result.stderr
    for thing in named:
        assert thing in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


WRONG_VALUES = [
    ('log_level = "shout"', 'log_level = "shout": expected one of debug, info, warning, error'),
    ('stratum_difficulty = "x"', 'stratum_difficulty = "x": expected a number'),
    ("datadir = 5", "datadir = 5: expected a path"),
    ('devchain_bits = "1e00zzzz"', 'devchain_bits = "1e00zzzz": expected compact nBits as hex'),
    ("miner = false", "unknown key 'miner'; did you mean no_miner?"),
    ('no_miner = "no"', 'no_miner = "no": expected a boolean: true or false, without quotes'),
]


@pytest.mark.parametrize(("line", "message"), WRONG_VALUES)
def test_a_wrong_value_in_the_file_is_one_line_and_exit_2(tmp_path, line, message):
    config = tmp_path / "otedama.toml"
    config.write_text(line + "\n")
    # Nothing on the command line that the file sets (the command line would win).
    refused(otedama("run", "--config", str(config), *QUIET[:5], env={"OTEDAMA_HOME": str(tmp_path / "home")}),
            f"config file {config}: ", message)
    assert not (tmp_path / "home").exists()


def test_validate_reports_every_reason_and_exits_1(tmp_path):
    config = tmp_path / "otedama.toml"
    config.write_text("\n".join(line for line, _ in WRONG_VALUES) + "\n")
    result = otedama("config", "validate", "--config", str(config), env={"OTEDAMA_MAX_INBOUND": "lots"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = result.stderr.splitlines()
    assert len(errors) == len(WRONG_VALUES) + 1
    for _, message in WRONG_VALUES:
        assert any(message in line for line in errors), message
    assert 'otedama: error: environment OTEDAMA_MAX_INBOUND="lots": expected a whole number from 0 to 10000' in errors


def test_validate_accepts_the_long_option_names_as_keys(tmp_path):
    config = tmp_path / "otedama.toml"
    config.write_text("no_miner = true\nminer_threads = 4\nno_p2p = true\nno_seeds = true\nmine_while_syncing = true\n")
    result = otedama("config", "validate", "--config", str(config), "--datadir", str(tmp_path / "node"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "configuration OK\n", "")


def test_a_wrong_value_in_the_environment_or_on_the_command_line(tmp_path):
    refused(otedama("run", "--datadir", str(tmp_path), *QUIET, env={"OTEDAMA_STRATUM_DIFFICULTY": "x"}),
            'environment OTEDAMA_STRATUM_DIFFICULTY="x": expected a number')
    refused(otedama("run", "--datadir", str(tmp_path), *QUIET, "--log-level", "shout"),
            '--log-level "shout": expected one of debug')


def test_the_stratum_port_in_use_is_named(tmp_path, busy_port):
    refused(otedama("run", "--datadir", str(tmp_path / "node"), *QUIET, "--stratum", f"127.0.0.1:{busy_port}"),
            "Stratum (--stratum)", f"port {busy_port} is already in use")


def test_the_api_port_in_use_is_named_and_nothing_else_is_said(tmp_path, busy_port):
    result = otedama("run", "--datadir", str(tmp_path / "node"), *QUIET, "--api", f"127.0.0.1:{busy_port}")
    refused(result, "the API (--api)", f"port {busy_port} is already in use")
    # The chain client is closed only after every task that uses it has stopped.
    assert " ERROR " not in result.stderr and "unavailable" not in result.stderr, result.stderr


@pytest.mark.parametrize("option", ["--stratum", "--api"])
def test_a_listen_address_this_machine_does_not_have(tmp_path, option):
    refused(otedama("run", "--datadir", str(tmp_path / "node"), *QUIET, option, "192.0.2.1:0"),
            f"({option})", "192.0.2.1:0: that is not an address of this machine")


def test_a_datadir_that_is_a_file_or_under_one(tmp_path):
    file = tmp_path / "file"
    file.write_text("not a directory")
    refused(otedama("run", "--datadir", str(file), *QUIET), f"datadir {file} is a file", "--datadir")
    refused(otedama("run", "--datadir", str(file / "node"), *QUIET), f"datadir {file / 'node'} is under {file}")
    refused(otedama("config", "validate", "--datadir", str(file)), f"datadir {file} is a file", code=1)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs sysfs")
def test_a_datadir_without_write_permission():
    # Tests run as root, whom file modes do not stop; sysfs refuses new files to everyone.
    refused(otedama("run", "--datadir", "/sys/otedama-test", *QUIET), "cannot create datadir /sys/otedama-test")
    refused(otedama("run", "--datadir", "/sys/kernel", *QUIET), "datadir /sys/kernel is not writable")


@pytest.mark.parametrize("network", ["mainnet", "testnet4", "signet"])
def test_a_public_network_without_bitcoind_refuses_to_start(tmp_path, network):
    refused(otedama("run", "--network", network, "--datadir", str(tmp_path / "node"), *QUIET),
            f"--network {network} needs a real bitcoind", "--bitcoind URL")
    assert not (tmp_path / "node").exists()


def test_regtest_mines_the_embedded_chain_only_when_asked(tmp_path):
    refused(otedama("run", "--network", "regtest", "--datadir", str(tmp_path / "node"), *QUIET),
            "--network regtest needs --bitcoind URL, or --devchain")


def _settings(text: str) -> dict:
    return tomllib.loads(text)


def test_config_show_round_trips_through_a_file(tmp_path):
    given = tmp_path / "given.toml"
    given.write_text('network = "regtest"\ndevchain = true\nminer_threads = 2\np2p = "/ip4/127.0.0.1/tcp/4000"\n')
    env = {"OTEDAMA_BITCOIND": "http://127.0.0.1:18443", "OTEDAMA_LOG_LEVEL": "warning"}
    first = otedama("config", "show", "--config", str(given), "--datadir", str(tmp_path / "node"),
                    "--max-inbound", "5", env=env)
    assert first.returncode == 0, first.stderr
    assert "miner_threads = 2  # file " in first.stdout and "log_level = \"warning\"  # env OTEDAMA_LOG_LEVEL" in first.stdout
    assert "max_inbound = 5  # command line --max-inbound" in first.stdout
    shown = tmp_path / "shown.toml"
    shown.write_text(first.stdout)
    assert otedama("config", "validate", "--config", str(shown)).stdout == "configuration OK\n"
    again = otedama("config", "show", "--config", str(shown))
    assert again.returncode == 0 and _settings(again.stdout) == _settings(first.stdout)


def test_config_show_redacts_the_rpc_password(tmp_path):
    result = otedama("config", "show", "--bitcoind", "http://alice:hunter2@127.0.0.1:8332", "--datadir", str(tmp_path))
    assert result.returncode == 0 and "hunter2" not in result.stdout
    assert 'bitcoind = "http://alice:<redacted>@127.0.0.1:8332"' in result.stdout


def test_version_comes_from_the_package_metadata():
    result = otedama("--version")
    assert (result.returncode, result.stdout) == (0, f"otedama {version('otedama')}\n")


def test_help_shows_every_default_per_network():
    text = " ".join(otedama("run", "--help").stdout.split())
    assert "--miner-threads N built-in miner threads (default: 1)" in text
    assert re.search(r"0\.0\.0\.0:3333 on devnet", text) and "0.0.0.0:9332 on mainnet" in text
    assert "(default: $OTEDAMA_HOME/NETWORK, else ~/.otedama/NETWORK)" in text
