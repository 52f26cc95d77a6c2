"""A real node process under a worker flood over several connections: the cap holds, the status and the
worker list stay small (top-N with a total, pages), the refusals are counted in /metrics and the names go
when their connections do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from benchmarks.hostile.attacks import LineStream, worker_flood
from benchmarks.loadgen.worker import miner_address
from tests.functional.framework import TIMEOUT_FACTOR, NodeProcess, wait_until

CONNECTIONS = 4
FLOOD = 300  # names asked for on each connection: 256 get in (the first is the handshake's)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    node = NodeProcess(Path(tmp_path_factory.mktemp("bounds")) / "node", "--network", "devnet", "--no-p2p",
                       "--no-miner", "--stratum-difficulty", "1e-9", name="bounds-node")
    node.start()
    try:
        yield node
    finally:
        node.stop()


def test_a_worker_flood_leaves_the_status_small_and_the_names_go_with_their_connections(node: NodeProcess) -> None:
    seen: dict[str, object] = {}

    async def flood() -> None:
        looked = trio.Event()

        async def hold() -> None:
            with trio.fail_after(60 * TIMEOUT_FACTOR):
                await looked.wait()

        async def one(i: int) -> None:
            async def look() -> None:
                # The other flood connections hold their names (hold) while the first one looks.
                await trio.to_thread.run_sync(lambda: wait_until(
                    lambda: node.status()["workers_total"] >= CONNECTIONS * 256, 30 * TIMEOUT_FACTOR, "the names"))
                seen["status"] = await trio.to_thread.run_sync(node.get, "/api/status")
                seen["page"] = await trio.to_thread.run_sync(node.get, "/api/workers?limit=500")
                looked.set()

            address = miner_address(100 + i)
            seen[f"flood{i}"] = await worker_flood("127.0.0.1", node.stratum_port, f"127.0.0.{2 + i}", address, FLOOD,
                                                   during=look if i == 0 else hold)

        async with trio.open_nursery() as nursery:
            for i in range(CONNECTIONS):
                nursery.start_soon(one, i)

    trio.run(flood)
    assert all(seen[f"flood{i}"] == "255 accepted, 45 refused" for i in range(CONNECTIONS)), seen
    status = seen["status"]
    assert isinstance(status, dict)
    assert status["workers_total"] == CONNECTIONS * 256 and len(status["workers"]) == 20
    assert len(str(status)) < 16_000, "the status lists the top 20 and a total, not every worker"
    page = seen["page"]
    assert isinstance(page, dict) and len(page["items"]) == 500 and page["next"] and page["total"] >= 1024
    metrics = node.get("/metrics")
    assert f'otedama_stratum_refusals_total{{reason="workers"}} {CONNECTIONS * 45}.0' in metrics
    wait_until(lambda: node.status()["workers_total"] == 0, 30 * TIMEOUT_FACTOR, "the names to go")


def test_a_connection_that_never_authorizes_is_closed_after_the_deadline(tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "node", "--network", "devnet", "--no-p2p", "--no-miner",
                       "--stratum-auth-timeout", "1", name="deadline-node").start()
    try:
        async def idle() -> float:
            lines = await LineStream.connect("127.0.0.1", node.stratum_port)
            started = trio.current_time()
            with trio.fail_after(30 * TIMEOUT_FACTOR):
                assert await lines.message() is None, "closed without an answer: it asked nothing"
            await lines.aclose()
            return trio.current_time() - started

        took = trio.run(idle)
        assert took >= 0.9, took
        assert 'otedama_stratum_refusals_total{reason="auth-timeout"} 1.0' in node.get("/metrics")
    finally:
        node.stop()
