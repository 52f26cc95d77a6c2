"""What the node runs and reads of Stratum, whether one server (:class:`~p2pool.stratum.server.StratumServer`)
or a pool of worker processes (:class:`~p2pool.stratum_processes.pool.StratumPool`)."""

from __future__ import annotations

import ssl
from typing import Protocol

import trio

from p2pool.stratum.stats import StratumStats, SubmitCounts


class StratumService(Protocol):
    @property
    def connection_count(self) -> int: ...

    def worker_names(self) -> set[str]: ...

    def counts(self) -> SubmitCounts: ...

    def hashrate(self) -> float: ...

    def stats(self) -> StratumStats: ...

    def new_work(self, clean: bool) -> None: ...

    def reload_bans(self) -> int: ...

    async def serve(self, host: str | None = None, port: int | None = None, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None: ...

    async def serve_tls(self, host: str, port: int, context: ssl.SSLContext, *,
                        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None: ...
