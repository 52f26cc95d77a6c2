"""benchmarks/kill9_loop.py in small: a mining node syncing with a peer, kill -9'd three times.

After each kill its database opens, the chain is intact, and every share it acknowledged to the
miner (seen by a recording proxy) or its peer received from it is stored; afterwards it syncs to
the peer's tip. The 100-kill run and its figures are in docs/performance.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.kill9.loop import run_loop

pytestmark = pytest.mark.slow


def test_three_kills_lose_nothing(tmp_path: Path) -> None:
    report = run_loop(tmp_path, kills=3, seed=3, max_run=8.0, log=False)
    assert report.kills == 3 and report.kills_while_serving >= 1
    assert report.failures == []
    assert report.final is not None and report.final.shares >= 1
    assert report.synced
