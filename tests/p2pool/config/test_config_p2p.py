"""P2P options: defaults per network, --no-p2p, multiaddrs checked before anything starts."""

from __future__ import annotations

import pytest

from bootstrap import SEEDS, seeds
from p2pool.config import ConfigError, node_config

PEER = "/ip4/127.0.0.1/tcp/9338/p2p/12D3KooWJdrweqGHMChAkt6amrCX71feRRYmfUBPGKLtmE82yn5b"


def test_default_listen_address_is_the_networks_port():
    assert node_config().p2p_listen == ("/ip4/0.0.0.0/tcp/9338",)
    assert node_config(network="testnet4", bitcoind="http://127.0.0.1:1", no_miner=True).p2p == ("/ip4/0.0.0.0/tcp/19338",)
    assert node_config(no_p2p=True).p2p_listen == ()


def test_a_string_is_a_list_of_one_and_peers_are_dialled_once():
    config = node_config(p2p="/ip4/127.0.0.1/tcp/7000", bootstrap=PEER, max_inbound=4)
    assert config.p2p == ("/ip4/127.0.0.1/tcp/7000",) and config.bootstrap == (PEER,) and config.max_inbound == 4
    assert node_config(bootstrap=[PEER, PEER]).peers_to_dial() == (PEER,)


@pytest.mark.parametrize(("values", "message"), [
    ({"p2p": ["/ip4/1.2.3/tcp/1"]}, "p2p = \\[\"/ip4/1.2.3/tcp/1\"\\]: listen address .* is not a multiaddr"),
    ({"p2p": ["/ip4/1.2.3.4/udp/1"]}, "expected /ip4/ADDRESS/tcp/PORT"),
    ({"p2p": []}, "expected at least one multiaddr"),
    ({"bootstrap": ["/ip4/127.0.0.1/tcp/1"]}, "bootstrap = .*ending in /p2p/PEER_ID"),
    ({"bootstrap": [PEER], "no_p2p": True}, "bootstrap = .* needs P2P: drop no_p2p = true"),
    ({"seed": True, "no_p2p": True}, "a seed node needs P2P"),
    ({"max_outbound": -1}, "max_outbound = -1: expected a whole number from 0 to 1000"),
])
def test_bad_p2p_options_are_refused_clearly(values, message):
    with pytest.raises(ConfigError, match=message):
        node_config(**values)


def test_every_network_has_a_seed_list():
    from sharechain.params import NETWORKS

    assert set(SEEDS) == set(NETWORKS)
    assert seeds("devnet") == [] and seeds("nonexistent") == []


def test_discovery_reachability_and_limit_options(tmp_path):
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text(f"# two seeds\n{PEER}  # a peer\n/dnsaddr/seeds.example.org\n")
    config = node_config(announce="/ip4/203.0.113.5/tcp/9338", seed_file=str(seed_file), max_per_ip=2,
                         max_per_subnet=6, no_dht=True, bootstrap=["/dnsaddr/more.example.org"])
    assert config.announce == ("/ip4/203.0.113.5/tcp/9338",) and config.no_dht
    assert (config.max_per_ip, config.max_per_subnet) == (2, 6)
    assert config.peers_to_dial() == ("/dnsaddr/more.example.org", PEER, "/dnsaddr/seeds.example.org")
    defaults = node_config()
    assert (defaults.max_per_ip, defaults.max_per_subnet, defaults.no_dht, defaults.announce) == (4, 8, False, ())


@pytest.mark.parametrize(("values", "message"), [
    ({"announce": ["/ip4/0.0.0.0/tcp/9338"]}, "not an address peers can dial"),
    ({"announce": ["/ip4/203.0.113.5/udp/9338"]}, "expected /ip4/ADDRESS/tcp/PORT"),
    ({"announce": ["/ip4/203.0.113.5/tcp/9338"], "no_p2p": True}, "--announce needs P2P"),
    ({"max_per_ip": 0}, "max_per_ip = 0: expected a whole number from 1"),
    ({"bootstrap": ["/dnsaddr/a.example.org/tcp/1"]}, "expected"),
])
def test_bad_discovery_options_are_refused_clearly(values, message):
    with pytest.raises(ConfigError, match=message):
        node_config(**values)


def test_a_bad_seed_file_names_its_line(tmp_path):
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text(f"{PEER}\n/ip4/1.2.3.4/tcp/9338\n")
    with pytest.raises(ConfigError, match=r"seeds.txt, line 2: .* expected /ip4/ADDRESS/tcp/PORT/p2p/PEER_ID"):
        node_config(seed_file=str(seed_file))
    with pytest.raises(ConfigError, match="cannot read seed file"):
        node_config(seed_file=str(tmp_path / "missing.txt"))
