"""TemplateMonitor: a real devchain server stopped and restarted, and virtual-time runs for timing rules."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trio

from p2pool.chain.backend import ChainUnavailable, SubmitResult
from p2pool.chain.events import ChainHealthChanged, TemplateChanged
from p2pool.chain.monitor import Health, MonitorConfig, TemplateMonitor
from p2pool.chain.rpc import BitcoindClient
from p2pool.chain.template import BlockTemplate, TemplateError
from p2pool.devchain.server import serve_devchain
from p2pool.devchain.service import DevchainConfig
from tests.fixtures.blocks import block_from_template
from tests.fixtures.devchain import PAYOUT
from tests.fixtures.vectors import vector


def collect(templates: list[BlockTemplate], health: list[Health]) -> Callable[[object], None]:
    """A ``publish`` for the monitor that keeps what it announces."""

    def publish(event: object) -> None:
        if isinstance(event, TemplateChanged):
            templates.append(event.template)
        elif isinstance(event, ChainHealthChanged):
            health.append(event.health)

    return publish


async def wait_until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait for observable state, checking every 10 ms, failing after ``timeout`` seconds."""
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.01)


class Counting:
    """Counts the calls the monitor makes on a real backend (a pass-through, not a stand-in)."""

    def __init__(self, inner: BitcoindClient) -> None:
        self.inner = inner
        self.calls = 0

    async def get_template(self) -> BlockTemplate:
        self.calls += 1
        return await self.inner.get_template()

    async def wait_for_template(self, longpollid: str) -> BlockTemplate:
        self.calls += 1
        return await self.inner.wait_for_template(longpollid)

    async def submit_block(self, block: bytes) -> SubmitResult:
        return await self.inner.submit_block(block)


async def run_server(config: DevchainConfig, scope: trio.CancelScope, *,
                     task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    with scope:
        await serve_devchain(config, task_status=task_status)


async def test_health_follows_a_real_server(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = DevchainConfig(datadir=tmp_path / "chain", port=0, bits=0x207FFFFF, longpoll_timeout=30.0)
    health: list[Health] = []
    templates: list[BlockTemplate] = []
    cfg = MonitorConfig(poll_interval=0.05, retry_initial=0.02, retry_max=0.1, long_poll_timeout=30.0)
    first_server = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(run_server, config, first_server)
        url = f"http://127.0.0.1:{port}"
        backend = Counting(BitcoindClient(url, timeout=5.0))
        monitor = TemplateMonitor(backend, cfg, publish=collect(templates, health))
        await nursery.start(monitor.run)
        await wait_until(lambda: monitor.current is not None)
        assert monitor.health.healthy and monitor.health.error is None
        first = monitor.current
        assert first is not None and first.height == 1
        # A block found elsewhere: the long poll brings the next template.
        async with BitcoindClient(url) as miner:
            assert (await miner.submit_block(block_from_template(first, PAYOUT).serialize())).accepted
        await wait_until(lambda: monitor.current is not None and monitor.current.height == 2)

        first_server.cancel()  # the long poll in flight breaks
        await wait_until(lambda: not monitor.health.healthy)
        assert monitor.current is None
        assert f"bitcoind at {url}/ is unavailable" in (monitor.health.error or "")
        calls = backend.calls
        await wait_until(lambda: backend.calls >= calls + 4)  # it keeps retrying...
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1  # ...but says so once
        await wait_until(lambda: "cannot connect" in (monitor.health.error or ""))

        await nursery.start(run_server, replace(config, port=port), trio.CancelScope())
        await wait_until(lambda: monitor.health.healthy)
        assert monitor.current is not None and monitor.current.height == 2
        nursery.cancel_scope.cancel()
    await backend.inner.aclose()
    assert [h.healthy for h in health] == [True, False, True]
    assert [t.height for t in templates] == [1, 2, 2]
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    assert any("usable again" in r.getMessage() for r in caplog.records)


class Scripted:
    """A backend whose availability and answers a virtual-time test sets directly."""

    def __init__(self) -> None:
        self.template = BlockTemplate.from_rpc(vector("core-regtest-gbt-segwit.json")["result"])
        self.down: str | None = None
        self.malformed = False
        self.calls: list[tuple[str, float]] = []
        self.long_poll_event = trio.Event()

    def _answer(self) -> BlockTemplate:
        if self.down:
            raise ChainUnavailable("http://127.0.0.1:18443/", self.down)
        if self.malformed:
            raise TemplateError("template has no 'bits'")
        return self.template

    async def get_template(self) -> BlockTemplate:
        self.calls.append(("get", trio.current_time()))
        return self._answer()

    async def wait_for_template(self, longpollid: str) -> BlockTemplate:
        self.calls.append(("wait", trio.current_time()))
        if longpollid == self.template.longpollid:
            await self.long_poll_event.wait()
        return self._answer()

    async def submit_block(self, block: bytes) -> SubmitResult:
        return SubmitResult(False, "not used")

    def new_block(self) -> None:
        self.template = replace(self.template, prev_hash=b"\x07" * 32, height=self.template.height + 1,
                                longpollid="next")
        self.long_poll_event.set()
        self.long_poll_event = trio.Event()


async def test_backoff_doubles_to_the_maximum(autojump_clock: Any, caplog: pytest.LogCaptureFixture) -> None:
    backend = Scripted()
    backend.down = "cannot connect (connection refused)"
    cfg = MonitorConfig(long_poll=False, poll_interval=5.0, retry_initial=1.0, retry_max=8.0)
    monitor = TemplateMonitor(backend, cfg)
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        start = trio.current_time()
        await trio.sleep(40)
        assert [round(t - start) for _, t in backend.calls] == [0, 1, 3, 7, 15, 23, 31, 39]
        assert monitor.current is None and monitor.health.since == start
        assert "connection refused" in (monitor.health.error or "")
        backend.down = None
        monitor.refresh()  # wakes the retry wait at once, not after the 8 s backoff
        await trio.sleep(0.001)
        assert monitor.health.healthy and monitor.current is backend.template
        polls = len(backend.calls)
        await trio.sleep(20.5)
        assert len(backend.calls) == polls + 4  # polled every 5 s
        nursery.cancel_scope.cancel()
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


async def test_long_poll_and_its_timeout(autojump_clock: Any) -> None:
    backend = Scripted()
    templates: list[BlockTemplate] = []

    cfg = MonitorConfig(poll_interval=5.0, long_poll_timeout=100.0)
    monitor = TemplateMonitor(backend, cfg, publish=collect(templates, []))
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        await trio.sleep(50)
        assert [kind for kind, _ in backend.calls] == ["get", "wait"]
        backend.new_block()
        await trio.sleep(1)
        assert monitor.current is not None and monitor.current.prev_hash == b"\x07" * 32
        assert [kind for kind, _ in backend.calls] == ["get", "wait", "wait"]
        # The next long poll ("next" is current, so it blocks) gets no answer for 100 s: a plain call follows,
        # then long polling resumes.
        await trio.sleep(150)
        kinds = [kind for kind, _ in backend.calls]
        assert kinds == ["get", "wait", "wait", "get", "wait"]
        assert backend.calls[3][1] - backend.calls[2][1] == pytest.approx(100)
        nursery.cancel_scope.cancel()
    assert [t.height for t in templates] == [211, 212]


async def test_malformed_template_makes_it_unhealthy(autojump_clock: Any) -> None:
    backend = Scripted()
    backend.malformed = True
    seen: list[Health] = []
    monitor = TemplateMonitor(backend, MonitorConfig(long_poll=False), publish=collect([], seen))
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        await trio.sleep(10)
        assert not monitor.health.healthy and "no 'bits'" in (monitor.health.error or "")
        backend.malformed = False
        await trio.sleep(60)
        assert monitor.health.healthy
        nursery.cancel_scope.cancel()
    assert [h.healthy for h in seen] == [False, True]
