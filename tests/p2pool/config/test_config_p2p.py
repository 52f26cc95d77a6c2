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
