"""One process per datadir: the lock names its holder, and a process that dies leaves no stale lock."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from p2pool.storage.lock import DatadirInUse, DatadirLock, in_use


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    with DatadirLock(tmp_path):
        with pytest.raises(DatadirInUse, match=rf"in use by another otedama process \(pid {os.getpid()}\)"):
            DatadirLock(tmp_path)
        assert in_use(tmp_path) is not None
    assert in_use(tmp_path) is None
    DatadirLock(tmp_path).release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    script = ("import pathlib, time; from p2pool.storage.lock import DatadirLock; "
              f"lock = DatadirLock(pathlib.Path({str(tmp_path)!r})); print('held', flush=True); time.sleep(60)")
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            assert f"pid {holder.pid}" in (in_use(tmp_path) or "")
        finally:
            holder.kill()
    assert in_use(tmp_path) is None
