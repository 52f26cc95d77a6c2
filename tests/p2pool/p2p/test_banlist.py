"""BanList: bans expire, survive re-opening, are written atomically, and damaged files are refused."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from p2pool.p2p.banlist import Ban, BanList, BanListError


def test_new_list_is_empty_and_writes_nothing(tmp_path: Path) -> None:
    bans = BanList(tmp_path / "bans.json")
    assert bans.active(0.0) == [] and len(bans) == 0
    assert not bans.is_banned("p", 0.0)
    assert list(tmp_path.iterdir()) == []


def test_ban_holds_until_it_expires(tmp_path: Path) -> None:
    bans = BanList(tmp_path / "bans.json")
    bans.ban("p", 1000.0, "invalid share")
    assert bans.is_banned("p", 999.9)
    assert not bans.is_banned("p", 1000.0)
    assert not bans.is_banned("other", 500.0)
    assert bans.get("p", 10.0) == Ban("p", 1000.0, "invalid share")
    assert bans.get("p", 1000.0) is None


def test_bans_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path)
    bans.ban("a", 2000.0, "flood")
    bans.ban("b", 1500, "malformed message")
    reopened = BanList(path)
    assert reopened.active(1000.0) == [Ban("b", 1500.0, "malformed message"), Ban("a", 2000.0, "flood")]
    assert reopened.is_banned("a", 1999.0)


def test_file_is_versioned_json(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    BanList(path).ban("p", 123.5, "why")
    document = json.loads(path.read_text())
    assert document == {"format": "otedama-banlist", "version": 1,
                        "bans": [{"peer": "p", "until": 123.5, "reason": "why"}]}


def test_unban_is_persisted(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path)
    bans.ban("a", 2000.0, "x")
    bans.ban("b", 2000.0, "y")
    bans.unban("a")
    bans.unban("never-banned")
    assert not bans.is_banned("a", 0.0)
    assert [ban.peer for ban in BanList(path).active(0.0)] == ["b"]


def test_longer_ban_wins(tmp_path: Path) -> None:
    bans = BanList(tmp_path / "bans.json")
    bans.ban("p", 2000.0, "first")
    bans.ban("p", 1000.0, "shorter")
    assert bans.get("p", 0.0) == Ban("p", 2000.0, "first")
    bans.ban("p", 3000.0, "longer")
    assert bans.get("p", 0.0) == Ban("p", 3000.0, "longer")


def test_expired_bans_are_pruned_and_the_file_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path)
    bans.ban("old", 100.0, "x")
    bans.ban("new", 300.0, "y")
    assert bans.active(200.0) == [Ban("new", 300.0, "y")]
    assert len(bans) == 1
    assert [entry["peer"] for entry in json.loads(path.read_text())["bans"]] == ["new"]
    assert bans.prune(200.0) == 0
    assert bans.prune(300.0) == 1
    assert BanList(path).active(0.0) == []


def test_is_banned_only_reads(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path)
    bans.ban("p", 100.0, "x")
    before = path.read_bytes()
    assert not bans.is_banned("p", 200.0)
    assert path.read_bytes() == before and len(bans) == 1


def test_size_is_bounded_dropping_the_soonest_to_expire(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path, max_bans=3)
    for peer, until in (("a", 400.0), ("b", 100.0), ("c", 300.0), ("d", 200.0)):
        bans.ban(peer, until, "x")
    assert [ban.peer for ban in bans.active(0.0)] == ["d", "c", "a"]
    assert len(BanList(path, max_bans=3)) == 3


def test_on_a_full_list_the_ban_just_made_stands_even_when_it_is_the_shortest(tmp_path: Path) -> None:
    # A first offence (a short ban) among repeat offenders (long ones): the newcomer is the one at the door.
    path = tmp_path / "bans.json"
    bans = BanList(path, max_bans=3)
    for peer, until in (("a", 400.0), ("b", 300.0), ("c", 500.0), ("new", 100.0)):
        bans.ban(peer, until, "x")
    assert [ban.peer for ban in bans.active(0.0)] == ["new", "a", "c"]
    assert {ban.peer for ban in BanList(path, max_bans=3).active(0.0)} == {"new", "a", "c"}


@pytest.mark.parametrize(("peer", "until", "reason", "error"), [
    ("", 1.0, "x", ValueError), ("p", float("inf"), "x", ValueError), ("p", float("nan"), "x", ValueError),
    ("p", True, "x", ValueError), ("p", 1.0, None, TypeError),
])
def test_bad_ban_arguments_are_refused(tmp_path: Path, peer: str, until: float, reason: str,
                                       error: type[Exception]) -> None:
    bans = BanList(tmp_path / "bans.json")
    with pytest.raises(error):
        bans.ban(peer, until, reason)
    assert len(bans) == 0 and not (tmp_path / "bans.json").exists()


@pytest.mark.parametrize("content", [
    b"\x00\xffnot json at all",
    b'{"format": "otedama-banlist", "version": 1, "bans": [',
    b'{"some": "other program"}',
    b"[1, 2, 3]",
    b'{"format": "otedama-banlist", "version": 2, "bans": []}',
    b'{"format": "otedama-banlist", "version": 1, "bans": {}}',
    b'{"format": "otedama-banlist", "version": 1, "bans": [{"peer": "p", "until": "soon", "reason": ""}]}',
    b'{"format": "otedama-banlist", "version": 1, "bans": [{"peer": "p", "until": NaN, "reason": ""}]}',
    b'{"format": "otedama-banlist", "version": 1, "bans": [{"peer": "p", "reason": ""}]}',
    b'{"format": "otedama-banlist", "version": 1, "bans": ["p"]}',
    b'{"format": "otedama-banlist", "version": 1, "bans": [{"peer": 7, "until": 1, "reason": ""}]}',
])
def test_damaged_or_foreign_file_is_refused_and_left_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bans.json"
    path.write_bytes(content)
    with pytest.raises(BanListError) as caught:
        BanList(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content


def test_unreadable_path_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    path.mkdir()
    with pytest.raises(BanListError, match="cannot read"):
        BanList(path)


def test_duplicate_entries_keep_the_longer_ban(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    entries = [{"peer": "p", "until": 500, "reason": "long"}, {"peer": "p", "until": 100, "reason": "short"}]
    path.write_text(json.dumps({"format": "otedama-banlist", "version": 1, "bans": entries}))
    assert BanList(path).active(0.0) == [Ban("p", 500.0, "long")]


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    bans = BanList(tmp_path / "bans.json")
    for i in range(5):
        bans.ban(f"p{i}", 100.0 + i, "x")
    bans.unban("p0")
    assert [p.name for p in tmp_path.iterdir()] == ["bans.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path)
    bans.ban("a", 100.0, "x")
    before = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    bans.ban("b", 200.0, "y")  # the failure is the list's to retry, not the caller's
    monkeypatch.undo()
    assert bans.write_error == "disk gone" and bans.is_banned("b", 150.0)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bans.json"]
    assert BanList(path).active(0.0) == [Ban("a", 100.0, "x")]


def test_write_is_fsynced_before_replace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    BanList(tmp_path / "bans.json").ban("p", 1.0, "x")
    assert calls == ["fsync", "replace", "fsync"]  # the file, then the directory entry


def test_module_is_pure() -> None:
    code = ("import sys, p2pool.p2p.banlist; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'trio', 'socket', 'libp2p', 'asyncio'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_ban_the_disk_refuses_stays_in_force_and_is_written_later(tmp_path: Path, caplog) -> None:
    from tests.fixtures.full_disk import file_size_limit

    path = tmp_path / "bans.json"
    bans = BanList(path)
    bans.ban("peer-a", 2_000_000_000, "first")
    on_disk = path.read_bytes()
    with file_size_limit(len(on_disk) + 1):  # the list with a second ban no longer fits (EFBIG)
        bans.ban("peer-b", 2_000_000_000, "second, on a full disk")
        bans.ban("peer-c", 2_000_000_000, "third, still full")
    assert bans.write_error is not None and bans.is_banned("peer-b", 1_900_000_000)
    assert caplog.text.count("cannot write the ban list") == 1
    assert path.read_bytes() == on_disk and not list(tmp_path.glob(".bans.json.*"))  # the old list, no leftovers
    bans.prune(1_900_000_000)  # nothing expired, but the list in memory is not on disk: written now
    assert bans.write_error is None and "written again" in caplog.text
    assert {b.peer for b in BanList(path).active(1_900_000_000)} == {"peer-a", "peer-b", "peer-c"}


def test_deferred_writes_are_left_to_the_owner_and_taken_back_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path)
    told: list[int] = []
    bans.defer_writes(lambda: told.append(1))
    bans.ban("a", 2000.0, "x")
    bans.ban("b", 2000.0, "y")
    assert told == [1, 1] and not path.exists()
    pending = bans.pending()
    assert pending is not None
    changes, entries = pending
    assert {ban.peer for ban in entries} == {"a", "b"}
    bans.ban("c", 2000.0, "z")  # made while the owner writes what it took: still pending after
    bans.written(changes, None)
    assert bans.pending() is not None
    bans.written(changes, OSError("disk full"))  # a failure is the list's to report, the changes stay pending
    assert bans.write_error == "disk full"
    bans.defer_writes(None)  # back to writing at once: what is pending is written now
    assert bans.pending() is None and bans.write_error is None
    assert [ban.peer for ban in BanList(path).active(0.0)] == ["a", "b", "c"]


def test_a_full_list_drops_what_a_walk_over_every_ban_would_whatever_was_lifted_or_lengthened(tmp_path: Path) -> None:
    # The list finds the ban to drop with a heap of expiry times (bans lifted or lengthened leave stale
    # entries behind); a plain model that walks every ban must agree after each change.
    rng = random.Random(7)
    bans = BanList(tmp_path / "bans.json", max_bans=20)
    bans.defer_writes(lambda: None)
    model: dict[str, float] = {}
    for step in range(3000):
        peer = f"p{rng.randrange(60)}"
        if rng.random() < 0.15:
            bans.unban(peer)
            model.pop(peer, None)
            continue
        until = float(rng.randrange(1, 500))
        bans.ban(peer, until, "x")
        if model.get(peer, -1.0) < until:
            model[peer] = until
            if len(model) > 20:
                del model[min((p for p in model if p != peer), key=lambda p: (model[p], p))]
        assert {ban.peer: ban.until for ban in bans.active(0.0)} == model, step
