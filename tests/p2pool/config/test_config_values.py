"""Each kind of value: what the file, the environment and the command line may give, and the one
message (key, value, what is expected) for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pool.config import ConfigError, Endpoint, load_config
from p2pool.config.values import REDACTED, RpcUrl

FILE_CASES = [
    ('log_level = "shout"', 'log_level = "shout": expected one of debug, info, warning, error'),
    ('stratum_difficulty = "x"', 'stratum_difficulty = "x": expected a number from 1e-10 to 1e+12'),
    ("stratum_difficulty = 0", "stratum_difficulty = 0: expected a number from 1e-10"),
    ("datadir = 5", "datadir = 5: expected a path (a string)"),
    ('no_miner = "no"', 'no_miner = "no": expected a boolean: true or false, without quotes'),
    ("no_miner = 1", "no_miner = 1: expected a boolean"),
    ("miner_threads = 0", "miner_threads = 0: expected a whole number from 1 to 1024"),
    ("miner_threads = true", "miner_threads = true: expected a whole number"),
    ("miner_threads = 2.5", "miner_threads = 2.5: expected a whole number"),
    ('devchain_bits = "zz"', 'devchain_bits = "zz": expected compact nBits as hex'),
    ('devchain_bits = "00000000"', "encodes a zero target"),
    ('devchain_bits = "01fedcba"', "negative compact target"),
    ('stratum = "0.0.0.0:70000"', 'stratum = "0.0.0.0:70000": expected HOST:PORT with a port from 0 to 65535'),
    ('stratum = "::1:3333"', "write an IPv6 address in brackets"),
    ('api = "localhost"', 'api = "localhost": expected HOST:PORT'),
    ('bitcoind = "ftp://host:1"', 'bitcoind = "ftp://host:1": expected a URL such as http://user:pass@127.0.0.1:8332'),
    ('bitcoind = "http://host:99999"', "expected a URL"),
    ('network = "moonnet"', 'network = "moonnet": expected one of mainnet, testnet4, signet, regtest, devnet'),
    ("p2p = 9338", "p2p = 9338: expected a multiaddr (or a list of them)"),
    ("bootstrap = [1, 2]", "bootstrap = [1, 2]: expected a multiaddr"),
    ("max_inbound = {a = 1}", "max_inbound = {'a': 1}: expected a whole number"),
]


@pytest.mark.parametrize(("line", "message"), FILE_CASES)
def test_a_wrong_value_in_the_file_gets_one_message_naming_key_value_and_expectation(tmp_path, line, message):
    path = tmp_path / "otedama.toml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config_file=path)
    assert len(caught.value.reasons) == 1
    assert caught.value.reasons[0].startswith(f"config file {path}: ")
    assert message in caught.value.reasons[0]


@pytest.mark.parametrize(("text", "value"), [("true", True), ("1", True), ("YES", True), ("on", True),
                                             ("false", False), ("0", False), ("no", False), ("off", False)])
def test_booleans_from_text_take_the_usual_words(text, value):
    assert load_config(environ={"OTEDAMA_NO_MINER": text}).config.no_miner is value
    assert load_config(argv={"no_miner": text}).config.no_miner is value


def test_a_word_that_is_not_a_boolean_is_refused_from_text_too():
    with pytest.raises(ConfigError, match=r'^environment OTEDAMA_NO_MINER="maybe": expected true or false'):
        load_config(environ={"OTEDAMA_NO_MINER": "maybe"})
    with pytest.raises(ConfigError, match=r'^--miner-threads "four": expected a whole number from 1 to 1024$'):
        load_config(argv={"miner_threads": "four"})


def test_values_are_parsed_once_into_their_types(tmp_path):
    config = load_config(argv={"stratum": "[::1]:3334", "api": ":9000", "datadir": "~/x", "devchain_bits": "0x1e00ffff",
                               "stratum_difficulty": "0.5", "bitcoind_cookie": str(tmp_path / "c"),
                               "bitcoind": "http://127.0.0.1:8332"}).config
    assert config.stratum == Endpoint("::1", 3334) and str(config.stratum) == "[::1]:3334"
    host, port = config.api
    assert (host, port) == ("127.0.0.1", 9000)
    assert config.datadir == Path("~/x").expanduser()
    assert config.devchain_bits == 0x1E00FFFF and config.stratum_difficulty == 0.5
    assert config.bitcoind_cookie == tmp_path / "c"


def test_devchain_bits_take_hex_text_or_a_toml_integer(tmp_path):
    path = tmp_path / "otedama.toml"
    path.write_text('devchain_bits = "1d00ffff"\n')
    assert load_config(config_file=path).config.devchain_bits == 0x1D00FFFF
    path.write_text("devchain_bits = 0x1d00ffff\n")
    assert load_config(config_file=path).config.devchain_bits == 0x1D00FFFF


def test_an_empty_optional_value_means_not_set(tmp_path):
    path = tmp_path / "otedama.toml"
    path.write_text('bitcoind = "http://u:p@127.0.0.1:8332"\n')
    assert load_config(config_file=path).config.bitcoind == "http://u:p@127.0.0.1:8332"
    assert load_config(config_file=path, environ={"OTEDAMA_BITCOIND": ""}).config.bitcoind is None


def test_the_rpc_password_is_the_secret_part_of_the_url():
    kind = RpcUrl()
    assert kind.redact("http://user:hunter2@127.0.0.1:8332/wallet") == f"http://user:{REDACTED}@127.0.0.1:8332/wallet"
    assert kind.redact("http://127.0.0.1:8332") == "http://127.0.0.1:8332"
    with pytest.raises(ConfigError, match="the password was redacted"):
        load_config(argv={"bitcoind": f"http://user:{REDACTED}@127.0.0.1:8332"})


def test_every_wrong_value_is_reported_at_once(tmp_path):
    path = tmp_path / "otedama.toml"
    path.write_text('log_level = "shout"\nminer = false\nmax_inbound = -1\n')
    with pytest.raises(ConfigError) as caught:
        load_config(config_file=path, environ={"OTEDAMA_STRATUM": "nowhere"}, argv={"miner_threads": "0"})
    reasons = caught.value.reasons
    assert len(reasons) == 5
    assert any("unknown key 'miner'; did you mean no_miner?" in r for r in reasons)
    assert any(r.startswith('environment OTEDAMA_STRATUM="nowhere"') for r in reasons)
    assert any(r.startswith('--miner-threads "0"') for r in reasons)
