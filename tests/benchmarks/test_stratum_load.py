"""benchmarks/stratum_load.py in small: 50 miners against a real node process for a few seconds.

Checks that the generator's own counts add up (every submit answered or counted as unanswered,
every answer accepted or rejected with a code, every connection up with a job) and that new work
was observed; it times nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.loadgen.config import LoadConfig
from benchmarks.loadgen.connection import refusal_reason
from benchmarks.loadgen.target import Target
from benchmarks.loadgen.worker import miner_address
from benchmarks.stratum_load import run
from sharechain.bitcoin.address import address_to_script
from sharechain.params import DEVNET

pytestmark = pytest.mark.slow


def test_miner_addresses_are_distinct_valid_devnet_addresses() -> None:
    addresses = [miner_address(i) for i in range(2_000)]
    assert len(set(addresses)) == len(addresses)
    assert all(a.startswith("bcrt1q") and len(address_to_script(a, DEVNET.address_format)) == 22 for a in addresses)


def test_fifty_miners_counts_add_up(tmp_path: Path) -> None:
    target = Target.start(tmp_path / "node", 1e-9, 1.0, "info")
    try:
        config = LoadConfig(host=target.host, port=target.port, miners=50, workers=2, duration=4.0, interval=1.0,
                            timeout=10.0, tip_interval=1.5, sample=2.0, ramp_timeout=60.0)
        figures = run(config, target)
    finally:
        target.stop()
    assert figures["connected"] == 50 and figures["ready"] == 50
    assert figures["connect_failures"] == 0 and figures["disconnects"] == 0
    assert figures["offered"] > 0
    assert figures["offered"] == figures["answered"] + figures["unanswered"]
    assert figures["answered"] == figures["accepted"] + sum(figures["rejected"].values())
    assert sum(figures["reasons"].values()) == sum(figures["rejected"].values())  # each refusal with its reason
    assert figures["timeouts"] == figures["late"] + figures["unanswered"]
    assert figures["shares_fired"] >= 1 and figures["events"] >= 1
    assert figures["events_complete"] + len(figures["events_incomplete_reached"]) == figures["events"]
    assert figures["accepted"] > 0, figures["rejected"]


def test_a_refusal_is_counted_by_what_the_node_said_without_its_numbers() -> None:
    assert refusal_reason([21, "Stale share: the job is 5 shares behind the sharechain tip", None]) == \
        "Stale share: the job is N shares behind the sharechain tip"
    assert refusal_reason([23, "Low difficulty share", None]) == "Low difficulty share"
    assert refusal_reason(None) == "None"
