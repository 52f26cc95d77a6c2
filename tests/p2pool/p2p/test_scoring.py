"""PeerScores: penalties, rewards, decay over time, disconnect and ban thresholds, repeat bans, bounded memory."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from p2pool.p2p.scoring import Offense, PeerScores, ScoreConfig, Verdict

DAY = 24 * 3600.0


def test_defaults_penalise_every_offense() -> None:
    config = ScoreConfig()
    assert {offense: config.penalty(offense) for offense in Offense} == {
        Offense.INVALID_SHARE: -50.0, Offense.MALFORMED_MESSAGE: -25.0, Offense.OVERSIZED_MESSAGE: -50.0,
        Offense.FLOOD: -20.0, Offense.UNANSWERED_REQUEST: -5.0, Offense.PROTOCOL_VIOLATION: -100.0}
    assert config.ban_threshold <= config.disconnect_threshold < 0


@pytest.mark.parametrize("bad", [
    {"flood": 5.0}, {"invalid_share": float("nan")}, {"ban_threshold": -10.0, "disconnect_threshold": -50.0},
    {"disconnect_threshold": 0.0}, {"half_life": 0.0}, {"ban_seconds": 0.0}, {"max_ban_seconds": 10.0},
    {"repeat_ban_factor": 0.5}, {"max_peers": 0}, {"good_reward": 30.0}, {"good_reward": -1.0},
])
def test_config_rejects_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ScoreConfig(**bad)  # type: ignore[arg-type]


def test_unknown_peer_scores_zero_and_is_not_tracked() -> None:
    scores = PeerScores()
    assert scores.score("p", 0.0) == 0.0
    assert "p" not in scores and len(scores) == 0


def test_small_offense_lowers_score_without_disconnect() -> None:
    scores = PeerScores()
    verdict = scores.record("p", Offense.MALFORMED_MESSAGE, 100.0)
    assert verdict == Verdict(False, 0.0, verdict.reason)
    assert "malformed message" in verdict.reason
    assert scores.score("p", 100.0) == -25.0


def test_reaching_disconnect_threshold_disconnects_without_ban() -> None:
    scores = PeerScores()
    verdict = scores.record("p", Offense.INVALID_SHARE, 0.0)
    assert verdict.disconnect and verdict.ban_seconds == 0.0
    assert "invalid share" in verdict.reason and "disconnect" in verdict.reason


def test_accumulated_offenses_disconnect() -> None:
    scores = PeerScores()
    verdicts = [scores.record("p", Offense.FLOOD, 10.0) for _ in range(3)]
    assert [v.disconnect for v in verdicts] == [False, False, True]
    assert scores.score("p", 10.0) == -60.0


def test_reaching_ban_threshold_bans_for_a_day_and_resets_score() -> None:
    scores = PeerScores()
    verdict = scores.record("p", Offense.PROTOCOL_VIOLATION, 50.0)
    assert verdict.disconnect and verdict.ban_seconds == DAY
    assert "protocol violation" in verdict.reason and "banned" in verdict.reason
    assert scores.score("p", 50.0) == 0.0


def test_two_invalid_shares_at_once_ban() -> None:
    scores = PeerScores()
    assert scores.record("p", Offense.INVALID_SHARE, 0.0).ban_seconds == 0.0
    assert scores.record("p", Offense.INVALID_SHARE, 0.0).ban_seconds == DAY


def test_repeat_offenders_are_banned_longer_up_to_the_cap() -> None:
    scores = PeerScores(ScoreConfig(max_ban_seconds=5 * DAY))
    lengths = [scores.record("p", Offense.PROTOCOL_VIOLATION, DAY * i).ban_seconds for i in range(5)]
    assert lengths == [DAY, 2 * DAY, 4 * DAY, 5 * DAY, 5 * DAY]


def test_ban_history_is_forgotten_after_ban_memory() -> None:
    scores = PeerScores(ScoreConfig(ban_memory=7 * DAY))
    assert scores.record("p", Offense.PROTOCOL_VIOLATION, 0.0).ban_seconds == DAY
    assert scores.record("p", Offense.PROTOCOL_VIOLATION, 7 * DAY).ban_seconds == 2 * DAY
    assert scores.record("p", Offense.PROTOCOL_VIOLATION, 14 * DAY + 1).ban_seconds == DAY


def test_score_halves_every_half_life() -> None:
    scores = PeerScores(ScoreConfig(half_life=600.0))
    scores.record("p", Offense.INVALID_SHARE, 1000.0)
    assert scores.score("p", 1000.0) == -50.0
    assert scores.score("p", 1600.0) == pytest.approx(-25.0)
    assert scores.score("p", 2200.0) == pytest.approx(-12.5)
    assert abs(scores.score("p", 1000.0 + 600.0 * 40)) < 1e-9


def test_decay_spares_a_peer_whose_offenses_are_far_apart() -> None:
    scores = PeerScores()
    assert scores.record("p", Offense.INVALID_SHARE, 0.0).disconnect
    later = scores.record("p", Offense.INVALID_SHARE, 3600.0)
    assert later.ban_seconds == 0.0
    assert scores.score("p", 3600.0) == pytest.approx(-50.0 - 50.0 / 64)


def test_score_query_does_not_change_state() -> None:
    scores = PeerScores()
    scores.record("p", Offense.FLOOD, 0.0)
    assert scores.score("p", 600.0) == pytest.approx(-10.0)
    assert scores.score("p", 0.0) == -20.0


def test_clock_stepping_back_decays_nothing() -> None:
    scores = PeerScores()
    scores.record("p", Offense.MALFORMED_MESSAGE, 1000.0)
    assert scores.score("p", 500.0) == -25.0
    scores.record("p", Offense.MALFORMED_MESSAGE, 500.0)
    assert scores.score("p", 1000.0) == -50.0


def test_good_behaviour_is_rewarded_up_to_the_cap() -> None:
    scores = PeerScores(ScoreConfig(good_reward=1.0, max_score=5.0))
    for _ in range(3):
        scores.good("p", 0.0)
    assert scores.score("p", 0.0) == 3.0
    for _ in range(10):
        scores.good("p", 0.0)
    assert scores.score("p", 0.0) == 5.0
    assert scores.score("p", 600.0) == pytest.approx(2.5)


def test_good_behaviour_offsets_penalties() -> None:
    scores = PeerScores()
    for _ in range(20):
        scores.good("p", 0.0)
    assert not scores.record("p", Offense.INVALID_SHARE, 0.0).disconnect
    assert scores.score("p", 0.0) == -30.0


def test_forget_drops_score_and_ban_history() -> None:
    scores = PeerScores()
    scores.record("p", Offense.PROTOCOL_VIOLATION, 0.0)
    scores.record("p", Offense.FLOOD, 0.0)
    scores.forget("p")
    scores.forget("never-seen")
    assert "p" not in scores and scores.score("p", 0.0) == 0.0
    assert scores.record("p", Offense.PROTOCOL_VIOLATION, 1.0).ban_seconds == DAY


def test_eviction_prefers_the_oldest_neutral_peer() -> None:
    scores = PeerScores(ScoreConfig(max_peers=3))
    scores.record("banned", Offense.PROTOCOL_VIOLATION, 0.0)  # oldest, score 0 but remembers its ban
    scores.good("friend", 1.0)
    scores.record("noisy", Offense.MALFORMED_MESSAGE, 2.0)
    later = 2.0 + 600.0 * 10  # friend and noisy have decayed to about 0
    scores.good("newcomer", later)
    assert len(scores) == 3
    assert [p for p in ("banned", "friend", "noisy", "newcomer") if p in scores] == ["banned", "noisy", "newcomer"]
    assert scores.record("banned", Offense.PROTOCOL_VIOLATION, later).ban_seconds == 2 * DAY


def test_eviction_without_neutral_peers_drops_the_least_recently_touched() -> None:
    scores = PeerScores(ScoreConfig(max_peers=3))
    for peer in ("a", "b", "c"):
        scores.record(peer, Offense.FLOOD, 0.0)
    scores.record("a", Offense.FLOOD, 1.0)  # a is now the most recently touched
    scores.record("d", Offense.FLOOD, 2.0)
    assert [p for p in "abcd" if p in scores] == ["a", "c", "d"]
    assert scores.score("a", 1.0) == pytest.approx(-20.0 * 0.5 ** (1 / 600) - 20.0)


def test_memory_stays_bounded_under_many_identities() -> None:
    scores = PeerScores(ScoreConfig(max_peers=50))
    for i in range(1000):
        scores.record(f"sybil-{i}", Offense.FLOOD, float(i))
    assert len(scores) == 50
    assert "sybil-999" in scores and "sybil-0" not in scores


def test_the_peer_just_added_is_never_evicted() -> None:
    scores = PeerScores(ScoreConfig(max_peers=1))
    scores.record("old", Offense.PROTOCOL_VIOLATION, 0.0)
    scores.good("new", 0.0)
    assert "new" in scores and "old" not in scores


def test_reads_no_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_clock() -> float:
        raise AssertionError("scoring read the clock")

    for name in ("time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"):
        monkeypatch.setattr(time, name, no_clock)
    scores = PeerScores(ScoreConfig(max_peers=2))
    for i in range(4):
        scores.good(f"p{i}", 0.0)
        scores.record(f"p{i}", Offense.PROTOCOL_VIOLATION, 1.0)
    assert scores.score("p3", 1.0) == pytest.approx(-99.0, abs=0.01) and len(scores) == 2


def test_module_is_pure() -> None:
    code = ("import sys, p2pool.p2p.scoring; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'trio', 'socket', 'libp2p', 'asyncio', 'sqlite3'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
