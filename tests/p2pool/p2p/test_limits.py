"""The connection table's decisions: per-address caps, half-open and unidentified bounds, the inbound
cap, refusals after failed handshakes and of foreign peers, deadlines, and its memory bound."""

from __future__ import annotations

import itertools

import pytest

from p2pool.p2p.limits import ConnectionTable, LimitConfig, Refusal, Stage, normalize_ip, subnet_of

PEERS = [f"12D3KooWPeer{i}" for i in range(64)]


def table(max_inbound: int = 32, **limits: object) -> ConnectionTable:
    return ConnectionTable(LimitConfig(**limits), max_inbound)  # type: ignore[arg-type]


keys = itertools.count(1)


def accept(t: ConnectionTable, ip: str, now: float = 0.0) -> tuple[int, Refusal | None]:
    key = next(keys)
    return key, t.accept(key, ip, 40000 + key % 20000, now)


def peer_in(t: ConnectionTable, ip: str, peer: str, now: float = 0.0) -> int:
    """An inbound connection all the way to a counted peer."""
    key, refusal = accept(t, ip, now)
    assert refusal is None
    assert t.secured(key, peer, now) is None
    assert t.identified(key, now) is None
    return key


def test_addresses_are_grouped_by_ip_and_by_subnet():
    assert subnet_of("203.0.113.77") == "203.0.113.0/24"
    assert subnet_of("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert subnet_of("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert normalize_ip("::ffff:10.1.2.3") == "10.1.2.3"
    assert subnet_of("not an ip") == "not an ip"


def test_connections_per_ip_are_capped_and_other_addresses_still_get_in():
    t = table(max_per_ip=2)
    assert accept(t, "203.0.113.5")[1] is None
    assert accept(t, "203.0.113.5")[1] is None
    assert accept(t, "203.0.113.5")[1] is Refusal.PER_IP
    assert accept(t, "::ffff:203.0.113.5")[1] is Refusal.PER_IP  # the same address, written as IPv6
    assert accept(t, "203.0.113.6")[1] is None
    assert t.status(0.0)["refusals"] == {"per_ip": 2}


def test_connections_per_subnet_are_capped_for_ipv4_and_ipv6():
    t = table(max_per_ip=8, max_per_subnet=3)
    for host in (1, 2, 3):
        assert accept(t, f"198.51.100.{host}")[1] is None
    assert accept(t, "198.51.100.200")[1] is Refusal.PER_SUBNET
    assert accept(t, "198.51.101.1")[1] is None
    for host in (1, 2, 3):
        assert accept(t, f"2001:db8:aa:{host}::1")[1] is None
    assert accept(t, "2001:db8:aa:ffff::1")[1] is Refusal.PER_SUBNET
    assert accept(t, "2001:db8:ab::1")[1] is None


def test_a_closed_connection_frees_its_slot():
    t = table(max_per_ip=1)
    key, _ = accept(t, "203.0.113.5")
    assert accept(t, "203.0.113.5")[1] is Refusal.PER_IP
    assert t.closed(key) is not None
    assert accept(t, "203.0.113.5")[1] is None


def test_loopback_is_exempt_from_per_address_rules_unless_configured():
    exempt = table(max_per_ip=1)
    assert [accept(exempt, "127.0.0.1")[1] for _ in range(5)] == [None] * 5
    limited = table(max_per_ip=1, exempt_loopback=False)
    assert [accept(limited, "127.0.0.1")[1] for _ in range(2)] == [None, Refusal.PER_IP]


def test_half_open_connections_are_bounded_even_from_loopback():
    t = table(max_handshaking=3)
    opened = [accept(t, "127.0.0.1") for _ in range(3)]
    assert all(r is None for _, r in opened)
    assert accept(t, "127.0.0.1")[1] is Refusal.HALF_OPEN
    assert t.secured(opened[0][0], PEERS[0], 0.0) is None  # past its handshake: a slot frees
    assert accept(t, "127.0.0.1")[1] is None


def test_unidentified_connections_are_bounded():
    t = table(max_unidentified=2)
    for i in range(2):
        key, _ = accept(t, "127.0.0.1")
        assert t.secured(key, PEERS[i], 0.0) is None
    key, _ = accept(t, "127.0.0.1")
    assert t.secured(key, PEERS[2], 0.0) is Refusal.UNIDENTIFIED
    assert t.get(key) is None  # refused: forgotten
    assert t.count(Stage.UNIDENTIFIED) == 2


def test_the_inbound_cap_counts_peers_and_holds_against_a_rush_of_unidentified_ones():
    t = table(max_inbound=2)
    peer_in(t, "127.0.0.1", PEERS[0])
    rush = []
    for peer in PEERS[1:4]:  # three arrive while one slot is left
        key, _ = accept(t, "127.0.0.1")
        assert t.secured(key, peer, 0.0) is None
        rush.append(key)
    assert [t.identified(k, 0.0) for k in rush] == [None, Refusal.INBOUND_CAP, Refusal.INBOUND_CAP]
    key, _ = accept(t, "127.0.0.1")
    assert t.secured(key, PEERS[9], 0.0) is Refusal.INBOUND_CAP  # full: refused before any more work


def test_a_peer_gets_one_inbound_connection_and_outbound_ones_do_not_count_against_the_cap():
    t = table(max_inbound=1)
    peer_in(t, "127.0.0.1", PEERS[0])
    key, _ = accept(t, "127.0.0.1")
    assert t.secured(key, PEERS[0], 0.0) is Refusal.DUPLICATE
    out = next(keys)
    assert t.opened(out, "192.0.2.1", 9338, PEERS[1], 0.0) is None
    assert t.identified(out, 0.0) is None
    assert t.count(Stage.PEER) == 2


def test_an_address_whose_handshakes_keep_failing_is_refused_for_a_while_then_longer():
    t = table(strikes=3, strike_window=60, refuse_for=30, refuse_max=100, exempt_loopback=False)
    for now in (0.0, 1.0, 2.0):
        key, refusal = accept(t, "127.0.0.1", now)
        assert refusal is None
        t.failed(key, now)
    assert accept(t, "127.0.0.1", 3.0)[1] is Refusal.REFUSED_ADDRESS
    assert t.is_refused_ip("127.0.0.1", 31.9)
    key, refusal = accept(t, "127.0.0.1", 32.5)  # 30 s after the third strike
    assert refusal is None
    t.failed(key, 33.0)
    for now in (34.0, 35.0):
        t.failed(accept(t, "127.0.0.1", now)[0], now)
    assert t.is_refused_ip("127.0.0.1", 35.0 + 59)  # the second time: 60 s
    assert not t.is_refused_ip("127.0.0.1", 35.0 + 61)


def test_failures_spread_beyond_the_window_are_not_a_pattern():
    t = table(strikes=3, strike_window=10, exempt_loopback=False)
    for now in (0.0, 6.0, 12.0, 18.0):
        t.failed(accept(t, "127.0.0.1", now)[0], now)
    assert not t.is_refused_ip("127.0.0.1", 18.0)
    assert accept(t, "127.0.0.1", 19.0)[1] is None


def test_loopback_failures_are_no_strikes_by_default():
    t = table(strikes=1)
    t.failed(accept(t, "127.0.0.1")[0], 0.0)
    assert accept(t, "127.0.0.1", 1.0)[1] is None


def test_a_refused_peer_is_turned_away_after_its_handshake_and_when_dialled():
    t = table()
    until = t.refuse_peer(PEERS[0], 100.0, minimum=3600)
    assert until == 3700.0
    key, _ = accept(t, "192.0.2.9", 200.0)
    assert t.secured(key, PEERS[0], 200.0) is Refusal.REFUSED_PEER
    assert t.opened(next(keys), "192.0.2.9", 9338, PEERS[0], 200.0) is Refusal.REFUSED_PEER
    assert t.opened(next(keys), "192.0.2.9", 9338, PEERS[1], 200.0) is None
    t.prune(3700.0)
    assert not t.is_refused_peer(PEERS[0], 3700.0)


def test_connections_unidentified_past_their_deadline_are_named():
    t = table(identify_timeout=10)
    key, _ = accept(t, "127.0.0.1", 0.0)
    assert t.secured(key, PEERS[0], 1.0) is None
    assert t.overdue(11.0) == []
    assert [c.key for c in t.overdue(11.5)] == [key]
    assert t.identified(key, 11.5) is None
    assert t.overdue(100.0) == []  # a peer has no deadline


def test_refusals_are_remembered_within_a_bound():
    t = table(max_refused=5, strikes=1)
    for i in range(20):
        t.refuse_peer(f"peer{i}", float(i))
        t.failed(accept(t, f"198.51.{i}.1", float(i))[0], float(i))
    assert len(t._refused_peers) == 5 and len(t._refused_ips) == 5
    assert t.is_refused_peer("peer19", 19.0) and not t.is_refused_peer("peer0", 19.0)


def test_the_status_counts_every_stage():
    t = table()
    accept(t, "127.0.0.1")
    key, _ = accept(t, "127.0.0.1")
    t.secured(key, PEERS[0], 0.0)
    peer_in(t, "127.0.0.1", PEERS[1])
    status = t.status(0.0)
    assert (status["handshaking"], status["unidentified"], status["peers"]) == (1, 1, 1)


@pytest.mark.parametrize("bad", [{"max_per_ip": 0}, {"ipv4_subnet": 33}, {"handshake_timeout": 0},
                                 {"refuse_for": 100, "refuse_max": 10}])
def test_unusable_limits_are_refused(bad):
    with pytest.raises(ValueError):
        LimitConfig(**bad)
