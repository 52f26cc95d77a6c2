"""defaults < file < environment < command line, where each value came from, and the rules that
involve several options (a real bitcoind off the dev networks, P2P for seeds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pool.config import ConfigError, load_config, node_config
from p2pool.config.origin import Layer


def test_each_layer_overrides_the_one_below(tmp_path):
    path = tmp_path / "otedama.toml"
    path.write_text("miner_threads = 2\nmax_inbound = 5\nmax_outbound = 6\nno-miner = true\n")
    env = {"OTEDAMA_MAX_INBOUND": "7", "OTEDAMA_MAX_OUTBOUND": "8"}
    resolved = load_config(config_file=path, environ=env, argv={"max_outbound": "9"})
    config, origins = resolved.config, resolved.origins
    assert (config.log_level, config.miner_threads, config.max_inbound, config.max_outbound) == ("info", 2, 7, 9)
    assert config.no_miner is True and config.miner is False
    assert origins["log_level"].layer is Layer.DEFAULT
    assert str(origins["miner_threads"]) == f"file {path}" and str(origins["no_miner"]) == f"file {path}"
    assert str(origins["max_inbound"]) == "env OTEDAMA_MAX_INBOUND"
    assert str(origins["max_outbound"]) == "command line --max-outbound"


def test_a_list_from_a_higher_layer_replaces_the_lower_one(tmp_path):
    path = tmp_path / "otedama.toml"
    path.write_text('p2p = ["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2"]\n')
    assert load_config(config_file=path).config.p2p == ("/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2")
    env = {"OTEDAMA_P2P": "/ip4/127.0.0.1/tcp/3, /ip4/127.0.0.1/tcp/4"}
    assert load_config(config_file=path, environ=env).config.p2p == ("/ip4/127.0.0.1/tcp/3", "/ip4/127.0.0.1/tcp/4")
    assert load_config(config_file=path, environ=env, argv={"p2p": ["/ip4/127.0.0.1/tcp/5"]}).config.p2p == (
        "/ip4/127.0.0.1/tcp/5",)


def test_defaults_follow_the_network_whichever_layer_chose_it(tmp_path):
    bitcoind = {"OTEDAMA_BITCOIND": "http://127.0.0.1:1", "OTEDAMA_NO_MINER": "1"}
    config = load_config(environ={"OTEDAMA_NETWORK": "testnet4", **bitcoind}).config
    assert config.stratum == ("0.0.0.0", 19332) and config.api == ("127.0.0.1", 19333)
    assert config.p2p == ("/ip4/0.0.0.0/tcp/19338",) and config.devchain is False
    assert config.datadir == Path("~/.otedama/testnet4").expanduser()
    devnet = load_config(environ={"OTEDAMA_HOME": str(tmp_path)}).config
    assert devnet.datadir == tmp_path / "devnet" and devnet.devchain is True and devnet.stratum.port == 3333


def test_file_keys_are_the_long_option_names_with_dashes_or_underscores(tmp_path):
    path = tmp_path / "otedama.toml"
    path.write_text("no_miner = true\nminer-threads = 4\nno_p2p = true\nno_seeds = true\nmine_while_syncing = true\n")
    config = load_config(config_file=path).config
    assert (config.miner, config.miner_threads, config.p2p_listen, config.seeds, config.sync_wait) == (
        False, 4, (), False, False)
    path.write_text("no_miner = true\nno-miner = false\n")
    with pytest.raises(ConfigError, match="no_miner is given twice"):
        load_config(config_file=path)


def test_near_misses_in_the_environment_are_refused_and_other_variables_left_alone():
    with pytest.raises(ConfigError, match="environment OTEDAMA_NO_MINNER: not an option; did you mean OTEDAMA_NO_MINER"):
        load_config(environ={"OTEDAMA_NO_MINNER": "true"})
    assert load_config(environ={"OTEDAMA_TIMEOUT_FACTOR": "3", "OTEDAMA_HOME": "/tmp", "HOME": "/x"}).config


@pytest.mark.parametrize("network", ["mainnet", "testnet4", "signet"])
def test_public_networks_need_a_real_bitcoind(network):
    with pytest.raises(ConfigError, match=f"--network {network} needs a real bitcoind: give --bitcoind URL"):
        load_config(argv={"network": network, "no_miner": "true"})
    with pytest.raises(ConfigError, match="the embedded dev chain is only for devnet and regtest"):
        load_config(argv={"network": network, "devchain": "true", "no_miner": "true"})
    assert load_config(argv={"network": network, "bitcoind": "http://u:p@127.0.0.1:8332", "no_miner": "true"})
    # A seed node has no chain backend at all.
    assert load_config(command="bootstrap", argv={"network": network}).config.seed


def test_regtest_mines_the_embedded_chain_only_when_asked():
    with pytest.raises(ConfigError, match="--network regtest needs --bitcoind URL, or --devchain"):
        load_config(argv={"network": "regtest"})
    assert load_config(argv={"network": "regtest", "devchain": "true"}).config.devchain


def test_rules_between_options():
    with pytest.raises(ConfigError, match="--payout-address is required on mainnet"):
        node_config(network="mainnet", bitcoind="http://127.0.0.1:8332")
    with pytest.raises(ConfigError, match=r"payout_address = \"bc1qnotreal\" \(given in code\): not an address of devnet"):
        node_config(payout_address="bc1qnotreal")
    with pytest.raises(ConfigError, match=r"bitcoind_cookie = .* needs --bitcoind URL"):
        node_config(bitcoind_cookie="/tmp/.cookie")
    with pytest.raises(ConfigError, match="unknown option 'miner'; did you mean no_miner"):
        node_config(miner=False)


def test_the_configuration_is_frozen():
    config = node_config()
    with pytest.raises(AttributeError):
        config.miner_threads = 3
