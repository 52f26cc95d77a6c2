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
