"""Peers that stop answering are dropped: a connection can outlive the peer behind it.

A peer's process can hang, its machine vanish without a FIN, or its end of the connection stop being
read (a muxer whose reader died: seen with a seed stopped in-process, whose peers kept "live"
connections to it for good). libp2p 0.8.1 sends no keepalives, so such a connection holds an outbound
slot or an inbound one forever and every request to it waits its full timeout.

A peer we have heard nothing from (no answer, no request: :meth:`Liveness.heard`) for ``interval`` is
probed: a stream of our sync protocol is negotiated on the existing connection and closed unused, a
round trip its muxer and multistream-select must answer. ``misses`` probes in a row that go unanswered
within ``timeout`` drop the peer (disconnected, not penalised: a slow link is nobody's offence).
:class:`Liveness` is the pure bookkeeping; :func:`run` is the trio adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio

log = logging.getLogger("otedama.p2p.keepalive")


@dataclass(frozen=True)
class KeepaliveConfig:
    enabled: bool = True
    interval: float = 30.0  # a peer silent this long is probed
    timeout: float = 10.0  # a probe's time to be answered
    misses: int = 2  # probes in a row unanswered before the peer is dropped

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.timeout <= 0 or self.misses < 1:
            raise ValueError("keepalive interval and timeout must be positive and misses at least 1")


class Liveness:
    """When each peer was last heard from, and how many probes in a row it has left unanswered."""

    def __init__(self, config: KeepaliveConfig) -> None:
        self.config = config
        self._heard: dict[str, float] = {}
        self._missed: dict[str, int] = {}
        self.dropped = 0

    def heard(self, peer: str, now: float) -> None:
        self._heard[peer] = now
        self._missed.pop(peer, None)

    def forget(self, peer: str) -> None:
        self._heard.pop(peer, None)
        self._missed.pop(peer, None)

    def due(self, peers: list[str], now: float) -> list[str]:
        """Of the connected ``peers``, those to probe now: silent for ``interval``, or having missed the
        last probe (probed again at once). A peer not seen before starts its silence now."""
        out = []
        for peer in peers:
            last = self._heard.setdefault(peer, now)
            if peer in self._missed or now - last >= self.config.interval:
                out.append(peer)
        return out

    def probed(self, peer: str, answered: bool, now: float) -> bool:
        """The probe's outcome; True when the peer is to be dropped."""
        if answered:
            self.heard(peer, now)
            return False
        self._missed[peer] = self._missed.get(peer, 0) + 1
        if self._missed[peer] < self.config.misses:
            return False
        self.forget(peer)
        self.dropped += 1
        return True


async def run(liveness: Liveness, peers: Callable[[], list[str]], probe: Callable[[str], Awaitable[bool]],
              drop: Callable[[str], None], *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Look for due peers every ``min(interval, timeout)`` and probe each (its own task, one at a time a
    peer); drop those that miss too many. ``probe`` says whether the peer answered (within ``timeout``)."""
    config = liveness.config
    probing: set[str] = set()

    async def one(peer: str) -> None:
        try:
            answered = False
            with trio.move_on_after(config.timeout):
                answered = await probe(peer)
            if peer in peers() and liveness.probed(peer, answered, trio.current_time()):
                log.info("peer %s answered none of %d probes in %.0f s each; disconnecting it", peer, config.misses,
                         config.timeout)
                drop(peer)
        finally:
            probing.discard(peer)

    async with trio.open_nursery() as nursery:
        task_status.started()
        while True:
            for peer in liveness.due(peers(), trio.current_time()):
                if peer not in probing:
                    probing.add(peer)
                    nursery.start_soon(one, peer)
            await trio.sleep(min(config.interval, config.timeout))
