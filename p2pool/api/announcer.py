"""What the live feed tells its clients, from the node's events: ``share`` (main and side), ``block``,
``peer`` (joined, left), ``worker`` (connected, disconnected), and ``stats`` every few seconds.

The composition root subscribes the ``on_*`` methods and runs :meth:`LiveAnnouncer.run_stats`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import trio

from p2pool.api.live import LiveFeed
from p2pool.events import (
    BlockFound,
    PeerConnected,
    PeerDisconnected,
    SharesAccepted,
    WorkerConnected,
    WorkerDisconnected,
)
from sharechain.bitcoin.address import AddressFormat, script_to_address
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.bitcoin.target import DIFF1_TARGET, bits_to_target

STATS_SECONDS = 5.0
MAX_SHARES_PER_MESSAGE = 50  # a sync batch is announced as its count and its newest shares


class LiveAnnouncer:
    def __init__(self, feed: LiveFeed, address_format: AddressFormat,
                 status: Callable[[bytes], str | None] = lambda share_hash: None) -> None:
        self.feed = feed
        self.address_format = address_format
        self._status = status  # a share's place: main, uncle, side, orphan

    def on_shares_accepted(self, event: SharesAccepted) -> None:
        if not self.feed.clients:  # nobody listens (a join accepts batch after batch): nothing to build
            return
        shares = event.shares[-MAX_SHARES_PER_MESSAGE:]
        self.feed.publish("share", {
            "source": event.source.kind.value, "worker": event.source.worker, "count": len(event.shares),
            "shares": [{"hash": hash_to_hex(s.hash), "height": s.info.height, "timestamp": s.info.timestamp,
                        "address": script_to_address(s.info.payout_script, self.address_format),
                        "difficulty": DIFF1_TARGET / bits_to_target(s.info.share_bits),
                        "uncles": len(s.info.uncles), "status": self._status(s.hash) or "side"} for s in shares],
        })

    def on_block_found(self, event: BlockFound) -> None:
        self.feed.publish("block", event.block.as_dict())

    def on_peer_connected(self, event: PeerConnected) -> None:
        self.feed.publish("peer", {"event": "joined", "id": event.peer,
                                   "direction": "inbound" if event.inbound else "outbound"})

    def on_peer_disconnected(self, event: PeerDisconnected) -> None:
        self.feed.publish("peer", {"event": "left", "id": event.peer})

    def on_worker_connected(self, event: WorkerConnected) -> None:
        self.feed.publish("worker", {"event": "connected", "name": event.worker, "address": event.address})

    def on_worker_disconnected(self, event: WorkerDisconnected) -> None:
        self.feed.publish("worker", {"event": "disconnected", "name": event.worker})

    async def run_stats(self, statistics: Callable[[], Mapping[str, Any]], interval: float = STATS_SECONDS) -> None:
        """A ``stats`` message every ``interval`` seconds while anyone listens."""
        while True:
            await trio.sleep(interval)
            if self.feed.clients:
                self.feed.publish("stats", dict(statistics()))
