"""The Stratum limits as pure policy: per-IP counts and the allow list, worker names per connection and their
refcounts, deadlines, the submit rate, strikes (stale work earns none) and bans that survive a restart."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from stratum_vector import USER, VectorProvider, easy_job, lines
from test_stratum_session import EASY, call, error_of, ready, share, submit_line

from p2pool.p2p.banlist import BanListError
from p2pool.stratum.bans import BAN_FILE, StratumBans, Strikes
from p2pool.stratum.limits import (
    INVALID_WORK,
    IpCounts,
    Refusal,
    StratumLimits,
    WorkerRefs,
    allowed,
    overdue,
    parse_networks,
    worker_refusal,
)
from p2pool.stratum.submit import SubmitError
from tests.purity import IO, assert_pure

ROOT = Path(__file__).resolve().parents[3]


def test_the_policy_modules_import_no_io() -> None:
    assert assert_pure([ROOT / "p2pool/stratum/limits.py"], IO) == 1


def test_per_ip_cap_counts_and_releases() -> None:
    ips = IpCounts(StratumLimits(max_per_ip=2))
    assert ips.admit("198.51.100.1") is None and ips.admit("198.51.100.1") is None
    assert ips.admit("198.51.100.1") is Refusal.PER_IP
    assert ips.count("198.51.100.1") == 2, "a refused connection is not counted"
    assert ips.admit("198.51.100.2") is None, "another IP has its own count"
    ips.release("198.51.100.1")
    assert ips.admit("198.51.100.1") is None
    for _ in range(2):
        ips.release("198.51.100.1")
    ips.release("198.51.100.2")
    assert len(ips) == 0, "an IP with no connections left takes no memory"


def test_allow_list_lifts_the_cap_for_a_farm() -> None:
    limits = StratumLimits(max_per_ip=1, allow=parse_networks(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]))
    ips = IpCounts(limits)
    assert all(ips.admit("10.1.2.3") is None for _ in range(1000))
    assert ips.admit("192.0.2.7") is None and ips.admit("192.0.2.7") is None
    assert ips.admit("192.0.2.8") is None and ips.admit("192.0.2.8") is Refusal.PER_IP
    assert allowed("2001:db8::1", limits.allow) and allowed("::ffff:10.0.0.1", limits.allow)
    assert not allowed("2001:db9::1", limits.allow) and not allowed("not an ip", limits.allow)
    assert not allowed("10.0.0.1", ())


def test_networks_parse_hosts_and_cidrs_and_name_a_bad_one() -> None:
    assert parse_networks(["10.0.0.1/8", " ::1 "]) == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300'"):
        parse_networks(["10.0.0.300"])


def test_worker_names_are_refcounted_over_connections() -> None:
    refs = WorkerRefs()
    refs.acquire(["a.1", "a.2"])
    refs.acquire(["a.1"])
    assert refs.names() == {"a.1", "a.2"} and len(refs) == 2
    assert refs.release(["a.1", "a.2"]) == ["a.2"], "a.1 is still held by the other connection"
    assert refs.release(["a.1"]) == ["a.1"] and len(refs) == 0


def test_deadlines() -> None:
    limits = StratumLimits(auth_timeout=30, idle_timeout=600)
    assert overdue(0, 0, False, 29.9, limits) is None
    assert overdue(0, 29, False, 30, limits) is Refusal.AUTH_TIMEOUT, "activity does not extend the deadline"
    assert overdue(0, 0, True, 599, limits) is None
    assert overdue(0, 10, True, 610, limits) is Refusal.IDLE
    assert overdue(0, 10, False, 610, limits) is Refusal.AUTH_TIMEOUT
    assert overdue(0, 10, True, 610, limits, waiting=True) is None, "no work for it: it cannot submit"


def test_limits_refuse_nonsense() -> None:
    for bad in ({"max_workers": 0}, {"max_per_ip": 0}, {"auth_timeout": 0}, {"submit_rate": 0}, {"ban_strikes": -1}):
        with pytest.raises(ValueError):
            StratumLimits(**bad)  # type: ignore[arg-type]


# -- in the session: worker cap, submit rate, strikes --------------------------------------------

def _authorize(session: object, name: str, request_id: int) -> dict[str, object]:
    return call(session, {"id": request_id, "method": "mining.authorize", "params": [name, "x"]})[0]


def test_authorize_past_the_worker_cap_is_refused_with_a_clear_error() -> None:
    session = ready(limits=StratumLimits(max_workers=3))
    assert _authorize(session, USER + ".b", 3)["result"] is True
    assert _authorize(session, USER + ".c", 4)["result"] is True
    refused = _authorize(session, USER + ".d", 5)
    assert refused["error"][0] == 24 and "already has 3 workers" in refused["error"][1]  # type: ignore[index]
    assert _authorize(session, USER + ".b", 6)["result"] is True, "a name it holds is not a new one"
    assert len(session.workers) == 3 and session.workers_refused == 1
    assert worker_refusal(2, StratumLimits(max_workers=3)) is None


def test_a_worker_flood_cannot_grow_the_session() -> None:
    session = ready(limits=StratumLimits(max_workers=256))
    flood = b"".join(json.dumps({"id": i, "method": "mining.authorize", "params": [f"{USER}.w{i}", "x"]}).encode()
                     + b"\n" for i in range(10, 10_010))
    out = session.receive_data(flood, 2.0)
    answers = lines(out.data)
    assert sum(1 for a in answers if a.get("result") is True) == 255
    assert sum(1 for a in answers if "already has 256 workers" in str(a.get("error"))) == 50
    assert out.close and "Too many malformed messages" in answers[-1]["error"][1], \
        "authorizing on past the cap is misbehaviour: the connection is dropped like one sending bad lines"
    assert len(session.workers) == 256 and session.workers_refused == 50
    assert len(session._counter._workers) == 256, "refused names leave no records behind"


def test_submits_past_the_token_bucket_are_refused_with_a_reason() -> None:
    session = ready(limits=StratumLimits(submit_rate=10, submit_burst=5))
    nonce, _ = share(session, "e1")
    answers = [call(session, submit_line("e1", nonce, request_id=10 + i), now=2.0)[0] for i in range(8)]
    assert answers[0]["result"] is True
    assert [a["error"][1].startswith("Too many submits") for a in answers[5:]] == [True] * 3
    assert session.rate_limited == 3 and session._counter.rejected["rate-limited"] == 3
    assert session.invalid == 4, "the four duplicates inside the burst are invalid work; the refused ones are not"
    later = call(session, submit_line("e1", nonce, request_id=30), now=2.5)[0]
    assert later["error"][1] == "Duplicate share", "the bucket refilled (10/s)"


def test_invalid_work_strikes_and_stale_work_does_not() -> None:
    session = ready()
    call(session, submit_line("nope", 1))
    call(session, submit_line("e1", 1, ntime="00000001"))
    assert session.invalid == 2 and session.good == 0
    nonce, _ = share(session, "e1")
    call(session, submit_line("e1", nonce))
    assert session.good == 1

    class StaleSource(VectorProvider):
        def unknown_job(self, job_id: str) -> SubmitError:
            return SubmitError(21, "stale-block", "Stale share: the job was for a previous Bitcoin block")

    stale = ready()
    stale._source = StaleSource(easy_job("e1", EASY))
    assert error_of(call(stale, submit_line("old", 1)))[0] == 21
    assert stale.invalid == 0, "a late share is not invalid work"
    assert not any(reason.startswith("stale") for reason in INVALID_WORK) and "no-work" not in INVALID_WORK


def test_session_times_for_the_sweeper() -> None:
    session = ready()
    assert session.opened == 0.0 and session.last_active == 1.0
    call(session, {"id": 9, "method": "mining.extranonce.subscribe", "params": []}, now=42.0)
    assert session.last_active == 42.0
    provider = session._source
    assert isinstance(provider, VectorProvider)
    job, provider.job = provider.job, None
    session.new_work(clean=True, now=50.0)
    assert session.no_work, "waiting: the sweeper does not call it idle"
    provider.job = job
    session.new_work(clean=True, now=900.0)
    assert not session.no_work and session.last_active == 900.0, "its idle clock starts again with the work"


# -- strikes and persisted bans ------------------------------------------------------------------

def test_strikes_are_net_and_bounded() -> None:
    strikes = Strikes(max_tracked=2)
    assert strikes.add("a", 5) == 5 and strikes.add("a", 1, good=4) == 2 and strikes.add("a", 0, good=9) == 0
    assert len(strikes) == 0, "an IP with no strikes takes no memory"
    strikes.add("a", 1)
    strikes.add("b", 1)
    strikes.add("c", 1)
    assert len(strikes) == 2 and strikes.get("a") == 0, "the IP touched least recently is forgotten"


def test_repeated_invalid_work_bans_and_the_ban_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / BAN_FILE
    bans = StratumBans(path, ban_strikes=10, ban_seconds=600)
    assert bans.strike("203.0.113.9", 9, 0, now=1000.0) is None
    assert bans.strike("203.0.113.9", 2, 2, now=1001.0) is None, "good work forgives strikes"
    ban = bans.strike("203.0.113.9", 1, 0, now=1002.0)
    assert ban is not None and ban.until == 1602.0 and "invalid work" in ban.reason
    assert bans.strike("203.0.113.9", 50, 0, now=1003.0) is None, "already banned: no second ban"
    restarted = StratumBans(path, ban_strikes=10, ban_seconds=600)
    assert restarted.banned("203.0.113.9", 1500.0) is not None
    assert restarted.banned("203.0.113.9", 1602.0) is None, "the ban ends"
    assert restarted.banned("203.0.113.10", 1500.0) is None


def test_no_bans_with_zero_strikes(tmp_path: Path) -> None:
    bans = StratumBans(tmp_path / BAN_FILE, ban_strikes=0, ban_seconds=600)
    assert bans.strike("203.0.113.9", 10**6, 0, now=0.0) is None and len(bans) == 0


def test_reload_reads_an_operators_edit_and_keeps_the_old_bans_if_it_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / BAN_FILE
    bans = StratumBans(path, ban_strikes=1, ban_seconds=600)
    bans.strike("203.0.113.9", 1, 0, now=0.0)
    document = json.loads(path.read_text())
    document["bans"] = []
    path.write_text(json.dumps(document))
    assert bans.reload() == 0 and bans.banned("203.0.113.9", 1.0) is None
    path.write_text("{not json")
    with pytest.raises(BanListError, match=BAN_FILE):
        bans.reload()
    with pytest.raises(BanListError):
        StratumBans(path, ban_strikes=1, ban_seconds=600)


# -- the sweeper's verdicts ----------------------------------------------------------------------

class _Conn:
    """A connection's state as the sweeper reads it (the server's _Connection has the same shape)."""

    def __init__(self, ip: str, opened: float, last_active: float, authorized: bool) -> None:
        self.ip, self.opened, self.last_active, self.authorized = ip, opened, last_active, authorized
        self.waiting = False
        self.closed: Refusal | None = None

    def close(self, reason: Refusal) -> None:
        self.closed = reason


async def test_one_sweep_closes_the_overdue_and_the_banned_in_slices() -> None:
    import trio

    from p2pool.stratum.sweeper import CLOSE_SLICE, sweep_interval, sweep_once

    now = trio.current_time()
    limits = StratumLimits(auth_timeout=30, idle_timeout=600)
    fresh = [_Conn("198.51.100.1", now, now, False) for _ in range(1000)]
    late = [_Conn("198.51.100.2", now - 31, now, False) for _ in range(3 * CLOSE_SLICE + 1)]
    idle = _Conn("198.51.100.3", now - 700, now - 601, True)
    banned = _Conn("203.0.113.9", now, now, True)
    everyone = [*fresh, *late, idle, banned]
    asked: list[str] = []

    def is_banned(ip: str) -> bool:
        asked.append(ip)
        return ip == "203.0.113.9"

    assert await sweep_once(everyone, limits, is_banned) == len(late) + 2  # type: ignore[arg-type]
    assert all(c.closed is None for c in fresh) and all(c.closed is Refusal.AUTH_TIMEOUT for c in late)
    assert idle.closed is Refusal.IDLE and banned.closed is Refusal.BANNED
    assert sorted(asked) == ["198.51.100.1", "203.0.113.9"], "each IP's ban looked up once a sweep"
    assert sweep_interval(limits) == 5.0 and sweep_interval(StratumLimits(auth_timeout=1)) == 0.25
