"""sd_notify written out: real unix datagram sockets stand in for systemd's (path and abstract)."""

from __future__ import annotations

import os
import socket

import pytest
import trio

from p2pool import systemd


@pytest.fixture
def notify_socket(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def test_ready_and_status_reach_the_socket(notify_socket):
    sock, path = notify_socket
    assert systemd.notify("READY=1", "STATUS=mining", environ={"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1\nSTATUS=mining"


def test_abstract_socket_names_start_with_an_at_sign():
    name = f"otedama-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert systemd.notify("STOPPING=1", environ={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"STOPPING=1"


def test_outside_systemd_or_with_a_dead_socket_nothing_happens(tmp_path, caplog):
    assert systemd.notify("READY=1", environ={}) is False
    assert systemd.notify("READY=1", environ={"NOTIFY_SOCKET": str(tmp_path / "gone")}) is False
    assert "cannot notify systemd" in caplog.text
    assert systemd.notify("READY=1", environ={"NOTIFY_SOCKET": "relative"}) is False


def test_watchdog_interval_is_half_the_period_and_only_for_this_process():
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}) == 10.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}) is None
    assert systemd.watchdog_interval({}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "0"}) is None


async def test_watchdog_pings_while_the_loop_runs(notify_socket, monkeypatch, autojump_clock):
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    sock.setblocking(False)
    with trio.move_on_after(25):
        await systemd.run_watchdog(10.0)
    pings = []
    while True:
        try:
            pings.append(sock.recv(64))
        except BlockingIOError:
            break
    assert pings == [b"WATCHDOG=1"] * 3  # at 0, 10 and 20 s
