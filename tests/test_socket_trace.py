"""The socket-leak tracer (tests/socket_trace.py) names the test and trio task that left a socket
open, where plain pytest fails whatever test the garbage collector happens to run in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEAKY = """
import trio

_holder = []


async def _make_and_forget():
    sock = trio.socket.socket()
    _holder.append([sock, _holder])  # a reference cycle: only the garbage collector frees it


async def test_leaks_a_socket():
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_make_and_forget)
    _holder.clear()
"""


def run_pytest(directory: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOCKET_TRACE_FILE": str(directory / "trace.txt")}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "trio_mode=true",
        "-W",
        "error",
        *options,
        "test_leaky.py",
    ]
    return subprocess.run(command, check=False, cwd=directory, env=env, capture_output=True, text=True, timeout=120)


def test_a_leaked_socket_is_reported_with_the_test_and_task_that_made_it(tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    plain = run_pytest(tmp_path)
    assert plain.returncode == 1 and "unclosed <socket.socket" in plain.stdout

    traced = run_pytest(tmp_path, "-p", "tests.socket_trace")
    assert traced.returncode == 0, traced.stdout
    report = (tmp_path / "trace.txt").read_text()
    assert report.startswith("=== left open: <socket.socket")
    assert "made in: test_leaky.py::test_leaks_a_socket (call)" in report
    assert "task test_leaky._make_and_forget" in report and "test_leaky.py:8 _make_and_forget" in report
