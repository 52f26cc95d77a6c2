"""Keeps the current block template fresh and tracks whether the Bitcoin node is usable.

Long polls when the server offers a ``longpollid`` (else polls every ``poll_interval`` s). While the
node is unreachable ``current`` is None, so the node stops handing out work; the outage is logged once
and retried with exponential backoff. Every wait uses trio's clock, so tests may run on virtual time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import trio

from p2pool.chain.backend import ChainBackend, ChainError
from p2pool.chain.events import ChainHealthChanged, Health, TemplateChanged
from p2pool.chain.template import BlockTemplate, TemplateError

log = logging.getLogger(__name__)
__all__ = ["Health", "MonitorConfig", "TemplateMonitor", "template_key"]


@dataclass(frozen=True)
class MonitorConfig:
    poll_interval: float = 5.0
    long_poll: bool = True
    # A long poll silent for this long is dropped for a plain call (which also detects a dead server).
    long_poll_timeout: float = 120.0
    retry_initial: float = 1.0
    retry_max: float = 30.0


def template_key(template: BlockTemplate) -> tuple[bytes, int, tuple[bytes, ...]]:
    """What makes a template new work: another parent, other bits or other transactions."""
    return template.prev_hash, template.bits, tuple(template.other_txids())


class TemplateMonitor:
    """Run ``run`` in a nursery (``await nursery.start(monitor.run)``); read ``current`` and ``health``.

    Announces :class:`TemplateChanged` and :class:`ChainHealthChanged` through ``publish``."""

    def __init__(self, backend: ChainBackend, config: MonitorConfig | None = None, *,
                 publish: Callable[[object], None] | None = None) -> None:
        self.backend = backend
        self.config = config or MonitorConfig()
        self._publish = publish or (lambda event: None)
        self._current: BlockTemplate | None = None
        self._health: Health | None = None
        self._wake = trio.Event()

    @property
    def current(self) -> BlockTemplate | None:
        """The template to mine on; None while the node is unreachable (or not reached yet)."""
        return self._current

    @property
    def health(self) -> Health:
        return self._health or Health(False, None, trio.current_time())

    def refresh(self) -> None:
        """Ask for a template now instead of at the next poll (e.g. right after submitting a block)."""
        self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._health = Health(False, None, trio.current_time())
        task_status.started()
        retry = self.config.retry_initial
        while True:
            started = trio.current_time()
            try:
                template = await self._fetch()
            except (ChainError, TemplateError) as exc:
                self._unhealthy(str(exc))
                await self._pause(retry)
                retry = min(retry * 2, self.config.retry_max)
                continue
            retry = self.config.retry_initial
            is_new = self._accept(template)
            if not self._long_polling():
                await self._pause(self.config.poll_interval)
            elif not is_new and trio.current_time() - started < self.config.poll_interval:
                # A server answering long polls at once with the same work: don't spin on it.
                await self._pause(self.config.poll_interval)

    def _long_polling(self) -> bool:
        return self.config.long_poll and self._current is not None and self._current.longpollid is not None

    async def _fetch(self) -> BlockTemplate:
        if self._long_polling():
            assert self._current is not None and self._current.longpollid is not None
            with trio.move_on_after(self.config.long_poll_timeout):
                return await self.backend.wait_for_template(self._current.longpollid)
        return await self.backend.get_template()

    async def _pause(self, seconds: float) -> None:
        with trio.move_on_after(seconds):
            await self._wake.wait()
        self._wake = trio.Event()

    def _accept(self, template: BlockTemplate) -> bool:
        if self._health is None or not self._health.healthy:
            if self._health is not None and self._health.error is not None:
                outage = trio.current_time() - self._health.since
                log.warning("bitcoind is usable again after %.0f s", outage)
            self._health = Health(True, None, trio.current_time())
            self._publish(ChainHealthChanged(self._health))
        old = self._current
        if old is not None and template_key(old) == template_key(template):
            return False
        self._current = template
        log.debug("new block template: height %d, %d transactions", template.height, len(template.transactions))
        self._publish(TemplateChanged(template, new_block=old is None or old.prev_hash != template.prev_hash))
        return True

    def _unhealthy(self, error: str) -> None:
        health = self._health
        if health is not None and not health.healthy and health.error is not None:
            self._health = Health(False, error, health.since)  # same outage: keep quiet
            log.debug("still unusable: %s", error)
            return
        log.error("%s (no work is given out until it is back; retrying)", error.rstrip("."))
        self._current = None
        self._health = Health(False, error, trio.current_time())
        self._publish(ChainHealthChanged(self._health))
