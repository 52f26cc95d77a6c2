"""New shares on a GossipSub topic: validated in full before they are forwarded.

Around libp2p 0.8.1's defaults: its per-topic spam limit (10 messages/s, silently dropping even our
own) and its IP-diversity mesh rule are turned off, because our own per-peer limits and scoring
apply instead; its 32-message subscription queue is drained continuously (every share is handled
in the validator, not from the subscription); message IDs are content hashes, so a share relayed
by several peers is one message. Every connected peer of our network is a "direct peer", so shares
are flooded over every connection rather than only the mesh. Its blacklist is not used (in 0.8.1 blacklisting a peer whose
stream is already gone raises inside pubsub and stops it): the validator refuses banned peers.
A peer that reconnects keeps its pubsub stream and subscriptions (:mod:`p2pool.p2p.pubsub_reconnect`).
Gossip is never the only way a share arrives: sync covers losses.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.tools.anyio_service import background_trio_service

from p2pool.p2p.pubsub_reconnect import ReconnectSafePubsub
from sharechain.share import MAX_SHARE_SIZE

log = logging.getLogger("otedama.p2p.gossip")
_OUTBOX = 1024

# Called with (forwarding peer, originating peer, raw share); True to accept and forward.
ShareValidator = Callable[[str, str, bytes], Awaitable[bool]]


def _message_id(message: rpc_pb2.Message) -> bytes:
    return hashlib.sha256(message.data).digest()


class ShareGossip:
    def __init__(self, host: IHost, topic: str, validate: ShareValidator, *, degree: int = 6,
                 heartbeat: int = 1) -> None:
        self.host = host
        self.topic = topic
        self._validate_share = validate
        # Adaptive gossip off: libp2p 0.8.1's "faster heartbeat when the network is unhealthy" sets it to 30 or
        # 60 s (a small network of few peers counts as unhealthy), and the message cache, which the heartbeat
        # ages, then holds 150-300 s of shares instead of 5 s (memory that grew with the share rate).
        self.router = GossipSub(
            protocols=[PROTOCOL_ID_V11, PROTOCOL_ID], degree=degree, degree_low=max(1, degree - 2),
            degree_high=degree * 2, heartbeat_interval=heartbeat, heartbeat_initial_delay=0.1,
            spam_protection_enabled=False, eclipse_protection_enabled=False, adaptive_gossip_enabled=False,
        )
        self.pubsub = ReconnectSafePubsub(host, self.router, msg_id_constructor=_message_id,
                             max_inbound_rpc_size=MAX_SHARE_SIZE * 4)
        self.pubsub.set_topic_validator(topic, self._validator, True)
        self._outbox_send, self._outbox_recv = trio.open_memory_channel[bytes](_OUTBOX)
        self.dropped = 0

    def announce(self, raw_share: bytes) -> None:
        """Queue a share of ours for publication (never blocks; sync recovers anything dropped)."""
        try:
            self._outbox_send.send_nowait(raw_share)
        except trio.WouldBlock:
            self.dropped += 1
            log.warning("gossip outbox full: a share was not announced (peers will sync it)")

    def cached_messages(self) -> int:
        """Messages the router keeps to answer peers' IWANT (the heartbeat ages them out after a few beats)."""
        return len(self.router.mcache.msgs)

    def add_direct(self, peer: str) -> None:
        """Send every share to ``peer``, mesh or not (it is one of ours: its sync protocol answered).

        Shares are few (one every few seconds network-wide), so flooding them over every connection
        costs little and takes the mesh's formation and heartbeat gossip out of their delivery time.
        """
        peer_id = ID.from_base58(peer)
        self.router.direct_peers[peer_id] = PeerInfo(peer_id, [])
        for mesh in self.router.mesh.values():
            mesh.discard(peer_id)

    def remove_direct(self, peer: str) -> None:
        self.router.direct_peers.pop(ID.from_base58(peer), None)

    def links(self) -> int:
        """Peers every share is sent to (see :meth:`add_direct`)."""
        return len(self.router.direct_peers)

    def mesh_size(self) -> int:
        return len(self.router.mesh.get(self.topic, ()))

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with background_trio_service(self.pubsub), background_trio_service(self.router):
            try:
                await self.pubsub.wait_until_ready()
                subscription = await self.pubsub.subscribe(self.topic)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._drain, subscription)
                    nursery.start_soon(self._publish_loop)
                    task_status.started()
                    await trio.sleep_forever()
            finally:
                self.pubsub.stopping = True  # before the services stop (see ReconnectSafePubsub)

    async def _drain(self, subscription: Any) -> None:
        while True:
            await subscription.get()

    async def _publish_loop(self) -> None:
        async for raw in self._outbox_recv:
            await self.pubsub.publish(self.topic, raw)

    async def _validator(self, forwarder: ID, message: rpc_pb2.Message) -> bool:
        if forwarder == self.host.get_id():
            return True  # our own share, validated when our miner found it
        try:
            origin = str(ID(message.from_id))
        except ValueError:
            origin = ""
        return await self._validate_share(str(forwarder), origin, bytes(message.data))
