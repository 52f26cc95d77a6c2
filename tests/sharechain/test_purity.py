"""The consensus core imports no I/O (no sockets, event loops, clocks, databases, metrics) and nothing of
the node around it: every module of ``sharechain/``, no exemptions."""

import sharechain
from tests.purity import IO, assert_pure, import_cycle, package_files


def test_consensus_modules_do_no_io():
    outside = {"os", "pathlib", "logging", "p2pool", "miner", "kernels", "bootstrap"}
    assert assert_pure(package_files(sharechain), IO | outside) >= 20


def test_no_import_cycle_in_the_core():
    assert import_cycle(package_files(sharechain)) is None


def test_the_rules_read_facts_not_the_chain():
    """validation.py checks a share against values; it never reaches into the chain or its caches."""
    root = package_files(sharechain)[0].parent
    rules = [root / name for name in ("validation.py", "context.py", "rejection.py")]
    assert_pure(rules, {"sharechain.chain", "sharechain.window", "sharechain.orphans", "sharechain.result"})
