"""Delivers notifications from a task of its own: a webhook (JSON POST) and a command (the JSON on stdin).

:meth:`Notifier.send` never waits: it puts the notification on a bounded queue, and when the queue
is full the notification is dropped and counted. The task delivers them in order, each channel
retried with exponential back-off (a 4xx answer other than 408 and 429 is final: retrying will not
help). :meth:`Notifier.configure` swaps the channels (SIGHUP) without losing what is queued.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import httpx
import trio

from p2pool.notify.watch import Notification

log = logging.getLogger("otedama.notify")
_STDERR_SHOWN = 300


@dataclass(frozen=True)
class Channels:
    """Where notifications go; None: not that way."""

    webhook: str | None = None
    command: str | None = None

    @property
    def any(self) -> bool:
        return self.webhook is not None or self.command is not None


@dataclass(frozen=True)
class Delivery:
    """How hard to try: ``attempts`` per channel, waits from ``backoff`` doubling up to ``max_backoff``."""

    attempts: int = 5
    backoff: float = 2.0
    max_backoff: float = 60.0
    timeout: float = 10.0
    queue: int = 100


class _Final(Exception):
    """A failure that another attempt would not mend."""


class Notifier:
    """Queue and deliver notifications for one node (``node``, ``network`` name it in every message)."""

    def __init__(self, channels: Channels, *, node: str, network: str, delivery: Delivery = Delivery(),
                 count: Callable[[str, str], None] = lambda channel, result: None) -> None:
        self.channels = channels
        self.node = node
        self.network = network
        self.delivery = delivery
        self._count = count  # (channel, "sent" | "failed" | "dropped"), for metrics
        self._send, self._receive = trio.open_memory_channel[Notification](delivery.queue)
        self.dropped = 0

    def configure(self, channels: Channels) -> None:
        """New channels for what is sent from now on (what is being delivered finishes the old way)."""
        self.channels = channels

    def send(self, notification: Notification) -> None:
        """Queue ``notification``; never blocks (a full queue drops it, with a warning)."""
        if not self.channels.any:
            return
        try:
            self._send.send_nowait(notification)
        except trio.WouldBlock:
            self.dropped += 1
            self._count("queue", "dropped")
            log.warning("notification %s dropped: %d are waiting to be delivered", notification.kind,
                        self.delivery.queue)

    async def run(self) -> None:
        # The HTTP client (its TLS context loads the system's CA certificates: tens of milliseconds of
        # a node's start) is made when the first webhook is sent, not by a node that never sends one.
        http: httpx.AsyncClient | None = None
        async with self._receive, contextlib.AsyncExitStack() as stack:
            async for notification in self._receive:
                channels = self.channels
                body = json.dumps(notification.as_dict(self.node, self.network)).encode()
                if channels.webhook is not None and http is None:
                    http = await stack.enter_async_context(httpx.AsyncClient(timeout=self.delivery.timeout))
                async with trio.open_nursery() as nursery:
                    if channels.webhook is not None:
                        assert http is not None
                        nursery.start_soon(self._deliver, "webhook", notification,
                                           partial(self._post, http, channels.webhook, body))
                    if channels.command is not None:
                        nursery.start_soon(self._deliver, "command", notification,
                                           partial(self._run, channels.command, notification, body))

    async def _deliver(self, channel: str, notification: Notification, attempt: Callable[[], Awaitable[None]]) -> None:
        wait = self.delivery.backoff
        for number in range(1, self.delivery.attempts + 1):
            try:
                with trio.fail_after(self.delivery.timeout * 3):
                    await attempt()
            except (_Final, OSError, httpx.HTTPError, trio.TooSlowError, RuntimeError) as exc:
                final = isinstance(exc, _Final) or number == self.delivery.attempts
                reason = str(exc) or type(exc).__name__
                if final:
                    self._count(channel, "failed")
                    log.warning("notification %s by %s failed (attempt %d): %s", notification.kind, channel, number,
                                reason)
                    return
                log.info("notification %s by %s failed (attempt %d, again in %.0f s): %s", notification.kind,
                         channel, number, wait, reason)
                await trio.sleep(wait)
                wait = min(wait * 2, self.delivery.max_backoff)
                continue
            self._count(channel, "sent")
            log.debug("notification %s sent by %s", notification.kind, channel)
            return

    async def _post(self, http: httpx.AsyncClient, url: str, body: bytes) -> None:
        reply = await http.post(url, content=body, headers={"content-type": "application/json",
                                                            "user-agent": "otedama-notify"})
        if reply.status_code < 300:
            return
        message = f"HTTP {reply.status_code} from the webhook"
        if 400 <= reply.status_code < 500 and reply.status_code not in (408, 429):
            raise _Final(message)
        raise RuntimeError(message)

    async def _run(self, command: str, notification: Notification, body: bytes) -> None:
        env = {**os.environ, "OTEDAMA_EVENT": notification.kind, "OTEDAMA_TEXT": notification.text,
               "OTEDAMA_NODE": self.node, "OTEDAMA_NETWORK": self.network}
        try:
            result = await trio.run_process(shlex.split(command), stdin=body, capture_stdout=True,
                                            capture_stderr=True, check=False, env=env)
        except FileNotFoundError as exc:
            raise _Final(f"cannot run {command!r}: {exc.strerror}") from None
        if result.returncode != 0:
            stderr = result.stderr.decode(errors="replace").strip()[:_STDERR_SHOWN]
            raise RuntimeError(f"{command!r} exited with {result.returncode}" + (f": {stderr}" if stderr else ""))

