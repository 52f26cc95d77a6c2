"""P2P options: defaults per network, --no-p2p, multiaddrs checked before anything starts."""

from __future__ import annotations

import pytest

from bootstrap import SEEDS, seeds
from p2pool.config import ConfigError, build_config

PEER = "/ip4/127.0.0.1/tcp/9338/p2p/12D3KooWJdrweqGHMChAkt6amrCX71feRRYmfUBPGKLtmE82yn5b"


def test_default_listen_address_is_the_networks_port():
    assert build_config({}, {}).p2p == ["/ip4/0.0.0.0/tcp/9338"]
    assert build_config({}, {"network": "testnet4"}).p2p == ["/ip4/0.0.0.0/tcp/19338"]
    assert build_config({}, {"no_p2p": True}).p2p == []


def test_file_values_and_repeatable_options():
    config = build_config({"p2p": "/ip4/127.0.0.1/tcp/7000", "bootstrap": PEER}, {"max_inbound": 4})
    assert config.p2p == ["/ip4/127.0.0.1/tcp/7000"] and config.bootstrap == [PEER] and config.max_inbound == 4
    assert build_config({}, {"bootstrap": [PEER, PEER]}).peers_to_dial() == [PEER]


@pytest.mark.parametrize(("values", "message"), [
    ({"p2p": ["/ip4/1.2.3/tcp/1"]}, "is not a multiaddr"),
    ({"p2p": ["/ip4/1.2.3.4/udp/1"]}, "expected /ip4/ADDRESS/tcp/PORT"),
    ({"bootstrap": ["/ip4/127.0.0.1/tcp/1"]}, "ending in /p2p/PEER_ID"),
    ({"bootstrap": [PEER], "no_p2p": True}, "--bootstrap needs P2P"),
    ({"seed": True, "no_p2p": True}, "a seed node needs P2P"),
    ({"max_outbound": -1}, "max-outbound"),
])
def test_bad_p2p_options_are_refused_clearly(values, message):
    with pytest.raises(ConfigError, match=message):
        build_config({}, values)


def test_every_network_has_a_seed_list():
    from sharechain.params import NETWORKS

    assert set(SEEDS) == set(NETWORKS)
    assert seeds("devnet") == [] and seeds("nonexistent") == []


def test_discovery_reachability_and_limit_options(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"# two seeds\n{PEER}  # a peer\n/dnsaddr/seeds.example.org\n")
    config = build_config({"announce": "/ip4/203.0.113.5/tcp/9338"},
                          {"seed_file": str(seeds), "max_per_ip": 2, "max_per_subnet": 6, "dht": False,
                           "bootstrap": ["/dnsaddr/more.example.org"]})
    assert config.announce == ["/ip4/203.0.113.5/tcp/9338"] and not config.dht
    assert (config.max_per_ip, config.max_per_subnet) == (2, 6)
    assert config.peers_to_dial() == ["/dnsaddr/more.example.org", PEER, "/dnsaddr/seeds.example.org"]
    defaults = build_config({}, {})
    assert (defaults.max_per_ip, defaults.max_per_subnet, defaults.dht, defaults.announce) == (4, 8, True, [])


@pytest.mark.parametrize(("values", "message"), [
    ({"announce": ["/ip4/0.0.0.0/tcp/9338"]}, "not an address peers can dial"),
    ({"announce": ["/ip4/203.0.113.5/udp/9338"]}, "expected /ip4/ADDRESS/tcp/PORT"),
    ({"announce": ["/ip4/203.0.113.5/tcp/9338"], "no_p2p": True}, "--announce needs P2P"),
    ({"max_per_ip": 0}, "max-per-ip must be a positive integer"),
    ({"bootstrap": ["/dnsaddr/a.example.org/tcp/1"]}, "expected"),
])
def test_bad_discovery_options_are_refused_clearly(values, message):
    with pytest.raises(ConfigError, match=message):
        build_config({}, values)


def test_a_bad_seed_file_names_its_line(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{PEER}\n/ip4/1.2.3.4/tcp/9338\n")
    with pytest.raises(ConfigError, match=r"seeds.txt, line 2: .* expected /ip4/ADDRESS/tcp/PORT/p2p/PEER_ID"):
        build_config({}, {"seed_file": str(seeds)})
    with pytest.raises(ConfigError, match="cannot read seed file"):
        build_config({}, {"seed_file": str(tmp_path / "missing.txt")})


def test_the_command_line_takes_the_new_options(tmp_path):
    from p2pool.cli import _parser

    args = _parser().parse_args(["run", "--announce", "/ip4/203.0.113.5/tcp/9338", "--announce",
                                 "/dns4/pool.example.org/tcp/9338", "--seed-file", "s.txt", "--max-per-ip", "3",
                                 "--max-per-subnet", "5", "--no-dht"])
    assert args.announce == ["/ip4/203.0.113.5/tcp/9338", "/dns4/pool.example.org/tcp/9338"]
    assert (args.seed_file, args.max_per_ip, args.max_per_subnet, args.dht) == ("s.txt", 3, 5, False)
