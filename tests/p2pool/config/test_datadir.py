"""The datadir is checked before anything is written: a file, under a file, not creatable, not writable.

Tests run as root, whom file modes do not stop; sysfs refuses new files and directories to everyone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pool.config import ConfigError, datadir_problem, prepare_datadir


def test_a_new_directory_is_created_and_left_empty(tmp_path):
    datadir = tmp_path / "a" / "b"
    assert datadir_problem(datadir) is None
    prepare_datadir(datadir)
    assert datadir.is_dir() and list(datadir.iterdir()) == []


def test_a_file_or_a_path_under_a_file_is_refused_before_anything_is_created(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    assert datadir_problem(file) == f"datadir {file} is a file, not a directory; choose another with --datadir"
    under = file / "sub" / "dir"
    with pytest.raises(ConfigError, match=f"datadir {under} is under {file}, which is a file"):
        prepare_datadir(under)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs sysfs")
def test_a_directory_nobody_may_write_is_refused():
    with pytest.raises(ConfigError, match=r"cannot create datadir /sys/otedama-test: .*; choose another with --datadir"):
        prepare_datadir(Path("/sys/otedama-test"))
    with pytest.raises(ConfigError, match=r"datadir /sys/kernel is not writable \(.*\); fix its permissions"):
        prepare_datadir(Path("/sys/kernel"))
