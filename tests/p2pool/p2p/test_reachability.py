"""Whether peers can reach us, from what they did: inbound peers, a quiet grace period with outbound
peers, and the addresses they see us at."""

from __future__ import annotations

import pytest

from p2pool.p2p.reachability import Reachability, ReachabilityConfig, Status

CONFIG = ReachabilityConfig(evidence_window=3600, grace=600)


def test_a_new_node_does_not_know():
    r = Reachability(CONFIG)
    assert r.decide(0.0).status is Status.UNKNOWN
    r.outbound_peers(3, 0.0)
    assert r.decide(599.0).status is Status.UNKNOWN


def test_a_peer_dialling_us_shows_we_are_reachable_for_a_while():
    r = Reachability(CONFIG)
    r.outbound_peers(2, 0.0)
    r.inbound_peer(100.0)
    verdict = r.decide(200.0)
    assert verdict.status is Status.REACHABLE and "100 s ago" in verdict.reason
    assert r.decide(100.0 + 3600).status is Status.REACHABLE
    # The evidence expires; with outbound peers all along, nobody dialling for the grace period means no.
    assert r.decide(100.0 + 3601).status is Status.UNREACHABLE


def test_no_peer_dialling_us_for_the_grace_period_while_we_have_peers_means_unreachable():
    r = Reachability(CONFIG)
    r.outbound_peers(1, 50.0)
    verdict = r.decide(650.0)
    assert verdict.status is Status.UNREACHABLE and "10 min" in verdict.reason


def test_the_grace_period_only_runs_while_we_have_outbound_peers():
    r = Reachability(CONFIG)
    r.outbound_peers(1, 0.0)
    r.outbound_peers(0, 500.0)  # alone again: nobody could have learned of us meanwhile
    assert r.decide(5000.0).status is Status.UNKNOWN
    r.outbound_peers(4, 5000.0)
    assert r.decide(5599.0).status is Status.UNKNOWN
    assert r.decide(5600.0).status is Status.UNREACHABLE


def test_an_observed_address_that_is_not_ours_points_at_a_nat_and_at_announce():
    r = Reachability(CONFIG, own_ips=frozenset({"10.0.0.5"}))
    r.observed_addr("10.0.0.5", 1.0)
    r.observed_addr("203.0.113.9", 2.0)
    assert r.foreign_observations() == ["203.0.113.9"]
    r.outbound_peers(1, 0.0)
    verdict = r.decide(600.0)
    assert verdict.status is Status.UNREACHABLE
    assert "203.0.113.9" in verdict.reason and "--announce" in verdict.reason
    announced = Reachability(CONFIG, own_ips=frozenset({"10.0.0.5"}), announced=True)
    announced.observed_addr("203.0.113.9", 2.0)
    announced.outbound_peers(1, 0.0)
    assert "forwarded port" in announced.decide(600.0).reason
    assert r.status(600.0)["observed"] == ["203.0.113.9", "10.0.0.5"]


def test_observations_are_bounded():
    r = Reachability(ReachabilityConfig(max_observed=3))
    for i in range(10):
        r.observed_addr(f"198.51.100.{i}", float(i))
    assert r.foreign_observations() == ["198.51.100.9", "198.51.100.8", "198.51.100.7"]


def test_windows_must_be_positive():
    with pytest.raises(ValueError):
        ReachabilityConfig(grace=0)
