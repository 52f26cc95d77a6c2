"""The node's built-in miner, started and stopped at run time (at start unless ``--no-miner``, and by
the API's admin endpoints ``POST /api/mining/start|stop``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio

log = logging.getLogger("otedama.node")
Outcome = tuple[bool, str]


class MinerControl:
    """``run`` in the node's nursery; then :meth:`start` and :meth:`stop` from anywhere in the node.

    ``config_for(threads)`` gives the miner's configuration (``threads`` None: as configured), or a
    string saying why this node cannot mine (no payout address)."""

    def __init__(self, config_for: Callable[[int | None], Any], threads: int) -> None:
        self._config_for = config_for
        self.threads = threads
        self._nursery: trio.Nursery | None = None
        self._scope: trio.CancelScope | None = None
        self._stopped = trio.Event()
        self.miner: Any = None  # the running miner.miner.Miner

    @property
    def running(self) -> bool:
        return self._scope is not None

    def status(self) -> dict[str, Any]:
        miner = self.miner
        return {"running": self.running, "threads": self.threads if self.running else 0,
                "hashrate": miner.hashrate if miner is not None else 0.0,
                "accepted": miner.accepted if miner is not None else 0,
                "rejected": miner.rejected if miner is not None else 0}

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def start(self, threads: int | None = None) -> Outcome:
        if self._nursery is None:
            return False, "the node is not running"
        if self._scope is not None:
            return False, f"the built-in miner is already running ({self.threads} threads)"
        config = self._config_for(threads)
        if isinstance(config, str):
            return False, config
        self._scope, self._stopped = trio.CancelScope(), trio.Event()
        self.threads = config.threads or self.threads
        try:
            self.miner = await self._nursery.start(self._mine, config, self._scope, self._stopped)
        except (RuntimeError, OSError, ValueError) as exc:  # started() never came: the kernel or the URL
            self._scope = None
            return False, f"the built-in miner could not start: {exc}"
        log.info("built-in miner started (%d threads, paid to %s)", self.threads, config.user)
        return True, f"built-in miner started with {self.threads} threads, paid to {config.user}"

    async def stop(self) -> Outcome:
        scope = self._scope
        if scope is None:
            return False, "the built-in miner is not running"
        scope.cancel()
        await self._stopped.wait()
        log.info("built-in miner stopped")
        return True, "built-in miner stopped"

    async def _mine(self, config: Any, scope: trio.CancelScope, stopped: trio.Event, *,
                    task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        from miner.miner import MinerError, run_miner

        try:
            with scope:
                await run_miner(config, task_status=task_status)
        except MinerError as exc:
            log.error("built-in miner stopped: %s", exc)
        finally:
            if self._scope is scope:
                self._scope, self.miner = None, None
            stopped.set()
