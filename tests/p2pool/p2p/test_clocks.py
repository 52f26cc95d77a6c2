from p2pool.p2p.clocks import MAX_PEERS, ClockSkew, SkewChanged

NOW = 1_700_000_000.0


def test_no_estimate_before_any_share():
    assert ClockSkew(30).skew() is None


def test_a_peer_an_hour_ahead_shows_our_clock_an_hour_behind_and_is_reported_once():
    clocks = ClockSkew(30)
    assert clocks.observe("a", int(NOW) + 3600, NOW + 0.5) == SkewChanged(-3599.5, True, 1)
    assert clocks.observe("a", int(NOW) + 3610, NOW + 10.5) is None  # still beyond: said once
    assert round(clocks.skew()) == -3600


def test_the_median_over_peers_names_the_odd_clock_out():
    clocks = ClockSkew(30)
    for i in range(5):
        clocks.observe("fast", int(NOW) + 3600 + i, NOW + i)
        clocks.observe("b", int(NOW) + i, NOW + i + 0.2)
        clocks.observe("c", int(NOW) + i, NOW + i + 0.3)
    assert abs(clocks.skew()) < 1  # ours agrees with two of three


def test_back_within_the_threshold_is_reported():
    clocks = ClockSkew(30)
    assert clocks.observe("a", int(NOW) - 3600, NOW).beyond  # our clock an hour ahead
    changed = clocks.forget("a")
    assert changed is not None and not changed.beyond
    clocks.observe("b", int(NOW), NOW + 1)
    assert clocks.skew() == 1


def test_old_relayed_shares_and_many_peers_stay_bounded():
    clocks = ClockSkew(30)
    assert clocks.observe("a", int(NOW) - 7 * 86400, NOW) is None and clocks.skew() is None
    for i in range(MAX_PEERS + 10):
        clocks.observe(f"p{i}", int(NOW), NOW)
    assert clocks.peers == MAX_PEERS
