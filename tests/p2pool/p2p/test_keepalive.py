"""The keepalive's bookkeeping: who is probed when, and after how many missed probes a peer goes."""

import pytest

from p2pool.p2p.keepalive import KeepaliveConfig, Liveness

CONFIG = KeepaliveConfig(interval=30.0, timeout=10.0, misses=2)


def test_a_peer_is_probed_only_after_a_silence_of_an_interval():
    live = Liveness(CONFIG)
    assert live.due(["a"], 100.0) == []  # first seen: its silence starts now
    assert live.due(["a"], 129.9) == []
    assert live.due(["a"], 130.0) == ["a"]
    live.heard("a", 131.0)
    assert live.due(["a"], 160.9) == []


def test_misses_in_a_row_drop_a_peer_and_an_answer_resets_them():
    live = Liveness(CONFIG)
    live.heard("a", 0.0)
    assert not live.probed("a", False, 30.0)
    assert live.due(["a"], 30.5) == ["a"], "a missed probe is followed by another at once"
    assert not live.probed("a", True, 31.0)
    assert live.due(["a"], 31.5) == []
    assert not live.probed("a", False, 61.0)
    assert live.probed("a", False, 71.0)
    assert live.dropped == 1
    assert live.due(["a"], 72.0) == [], "forgotten when dropped: a new connection starts afresh"


def test_a_peer_that_left_is_forgotten():
    live = Liveness(CONFIG)
    live.heard("a", 0.0)
    live.probed("a", False, 30.0)
    live.forget("a")
    assert live.due(["a"], 31.0) == []


@pytest.mark.parametrize("kwargs", [{"interval": 0}, {"timeout": -1}, {"misses": 0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        KeepaliveConfig(**kwargs)
