"""A streak of failed writes is logged once, with what the node does meanwhile, and its end once."""

from __future__ import annotations

import logging

from p2pool.write_failures import WriteFailures


def test_a_streak_is_logged_at_its_start_and_its_end(caplog):
    writes = WriteFailures(logging.getLogger("otedama.test"), "the file /x", "kept in memory")
    writes.succeeded()
    assert writes.error is None and not caplog.records
    for _ in range(3):
        writes.failed(OSError(28, "No space left on device"))
    assert writes.error == "[Errno 28] No space left on device"
    writes.succeeded()
    writes.succeeded()
    assert writes.error is None
    assert [r.getMessage() for r in caplog.records] == [
        "cannot write the file /x ([Errno 28] No space left on device): kept in memory",
        "the file /x written again (after: [Errno 28] No space left on device)"]
    writes.failed(RuntimeError())
    assert writes.error == "RuntimeError"
