"""The uncle simulation, short: two real nodes linked through a 200 ms delay proxy, miners at 1:4,
about a minute of mining. Its counts add up from real chain state (every share made has one fate or
is still pending, the nodes' own counts agree, every node gives each share the same fate), every
block read back from the dev chain pays what the sharechain computes, and fairness figures come out.
No timing and no statistical target is asserted here: ``benchmarks/uncle_sim.py`` is the measurement."""

from __future__ import annotations

import math

import pytest

from benchmarks.uncle_sim import SimConfig, report, simulate
from sharechain.fate import Fate

pytestmark = pytest.mark.slow


async def test_a_short_uncle_simulation_adds_up(tmp_path):
    config = SimConfig(delay=0.2, rates=(40_000, 160_000), duration=40, block_work=1 << 20, min_share_work=1 << 17)
    result = await simulate(tmp_path, config)
    print(report(result))

    f = result.fates
    assert result.made >= 4 and result.settled >= 1
    assert f[Fate.MAIN] + f[Fate.UNCLE] + f[Fate.ORPHAN] + result.pending == result.made
    assert sum(result.orphan_causes.values()) == f[Fate.ORPHAN]
    assert result.local_total == result.made  # every share the miners made is in the chain
    assert result.fates_agree
    assert sum(sum(c.values()) for c in result.shares_by_miner.values()) == result.settled
    assert 0 <= result.orphan_rate <= 1
    assert result.blocks >= 1 and result.blocks_paid_as_computed == result.blocks
    assert result.proxy.bytes_forwarded > 0
    assert [m.name for m in result.miners] == ["node0 (1x)", "node1 (4x)"]
    assert sum(m.work_share for m in result.miners) == 1 and sum(m.paid_share for m in result.miners) == 1
    assert all(0 < m.spread < 1 and math.isfinite(m.z) for m in result.miners)
    assert set(result.submits) == {m.name for m in result.miners}
