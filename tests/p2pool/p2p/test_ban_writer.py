"""write_behind: a ban list written behind its changes, in a worker thread, many changes in one write; what is
pending when it stops is written; a write the disk refuses is tried again."""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio

from p2pool.p2p import ban_writer
from p2pool.p2p.ban_writer import write_behind
from p2pool.p2p.banlist import Ban, BanList
from tests.fixtures.full_disk import file_size_limit

UNTIL = 4e9


def on_disk(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {entry["peer"] for entry in json.loads(path.read_text())["bans"]}


def temporary_files(folder: Path) -> list[Path]:
    return list(folder.glob(".bans.json.*"))


async def wait_until(predicate: Callable[[], bool]) -> None:
    with trio.fail_after(30):
        while not predicate():
            await trio.sleep(0.01)


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Each write the writer makes: (the thread it ran on, how many bans it wrote)."""
    made: list[tuple[int, int]] = []
    real = ban_writer.write_bans

    def counted(path: Path, bans: list[Ban]) -> None:
        made.append((threading.get_ident(), len(bans)))
        real(path, bans)

    monkeypatch.setattr(ban_writer, "write_bans", counted)
    return made


async def test_a_ban_is_written_in_a_worker_thread_and_a_burst_in_one_write(tmp_path: Path, writes) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(write_behind, bans)
        for i in range(100):  # no checkpoint between them: the writer sees them all at once
            bans.ban(f"10.0.0.{i}", UNTIL, "20 submits of invalid work")
        assert not path.exists() and bans.is_banned("10.0.0.7", 0.0)  # in force at once, not yet on disk
        await wait_until(lambda: bans.pending() is None)
        assert on_disk(path) == {f"10.0.0.{i}" for i in range(100)}
        assert writes == [(writes[0][0], 100)] and writes[0][0] != threading.get_ident()
        nursery.cancel_scope.cancel()
    assert len(writes) == 1  # nothing was pending at the stop: nothing written again


async def test_what_is_pending_when_the_writer_stops_is_written(tmp_path: Path, writes) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial_writer(every=3600), bans)
        bans.ban("first", UNTIL, "x")
        await wait_until(lambda: on_disk(path) == {"first"})
        bans.ban("second", UNTIL, "y")  # the writer rests an hour after a write
        bans.unban("first")
        await trio.sleep(0.05)
        assert on_disk(path) == {"first"} and bans.pending() is not None
        nursery.cancel_scope.cancel()
    assert on_disk(path) == {"second"} and bans.pending() is None
    bans.ban("third", UNTIL, "z")  # without a writer: written at once again
    assert on_disk(path) == {"second", "third"}


async def test_a_write_the_disk_refuses_is_tried_again_and_the_bans_stay_in_force(tmp_path: Path, caplog) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path)
    bans.ban("before", UNTIL, "written at once")
    size = path.stat().st_size
    async with trio.open_nursery() as nursery:
        await nursery.start(partial_writer(every=0.01, retry=0.05), bans)
        with file_size_limit(size + 1):  # the list with one more ban no longer fits (EFBIG), in every thread
            bans.ban("during", UNTIL, "a full disk")
            await wait_until(lambda: bans.write_error is not None)
            assert bans.is_banned("during", 0.0) and on_disk(path) == {"before"}
            await trio.sleep(0.2)  # tried again meanwhile, still full
            assert bans.pending() is not None
        await wait_until(lambda: bans.pending() is None)
        nursery.cancel_scope.cancel()
    assert on_disk(path) == {"before", "during"} and bans.write_error is None
    assert caplog.text.count("cannot write the ban list") == 1 and "written again" in caplog.text
    assert not temporary_files(tmp_path)


async def test_a_list_the_operator_reloads_is_what_the_writer_writes_next(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    bans = BanList(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial_writer(every=0.01), bans)
        bans.ban("mine", UNTIL, "x")
        await wait_until(lambda: on_disk(path) == {"mine"})
        edited = json.loads(path.read_text())
        edited["bans"].append({"peer": "by-hand", "until": UNTIL, "reason": "the operator"})
        path.write_text(json.dumps(edited))
        assert bans.reload() == 2
        bans.ban("later", UNTIL, "y")
        await wait_until(lambda: bans.pending() is None)
        nursery.cancel_scope.cancel()
    assert on_disk(path) == {"mine", "by-hand", "later"}


def partial_writer(**options: float) -> Callable[..., Awaitable[None]]:
    async def run(bans: BanList, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await write_behind(bans, task_status=task_status, **options)

    return run
