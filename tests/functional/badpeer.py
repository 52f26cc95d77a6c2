"""A scriptable misbehaving peer: a real libp2p host (TCP, Noise, yamux, GossipSub) that speaks the
network's protocols and says whatever a test tells it to: invalid shares, malformed or oversized
frames, floods of requests, shares of another network."""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import multiaddr
import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, GossipSub
from libp2p.tools.anyio_service import background_trio_service

from p2pool.p2p.gossip import _message_id
from p2pool.p2p.host import ProtocolNames, build_host, close_host, disconnect_peer, parse_peer, stop_auto_connector
from p2pool.p2p.messages import (
    FrameDecoder,
    GetHashes,
    GetPeers,
    GetRecent,
    GetSharesByHash,
    GetTip,
    Hashes,
    Message,
    Peers,
    Shares,
    Tip,
    encode,
)
from p2pool.p2p.pubsub_reconnect import ReconnectSafePubsub
from p2pool.p2p.stream import StreamClosed, read_message
from sharechain.bitcoin.transaction import NULL_HASH
from sharechain.params import NetworkParams
from tests.functional.framework import TIMEOUT_FACTOR

LISTEN = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]


class ConnectionGone(Exception):
    """The bad peer has no usable connection to that peer any more."""


class BadPeer:
    def __init__(self, params: NetworkParams) -> None:
        self.names = ProtocolNames.for_network(params)
        self.host = build_host(create_new_key_pair(), LISTEN)
        self.peer_id = str(self.host.get_id())
        self.router = GossipSub(protocols=[PROTOCOL_ID_V11, PROTOCOL_ID], degree=6, degree_low=4, degree_high=12,
                                heartbeat_interval=1, spam_protection_enabled=False, eclipse_protection_enabled=False)
        self.pubsub = ReconnectSafePubsub(self.host, self.router, msg_id_constructor=_message_id)
        self.host.set_stream_handler(self.names.sync, self._answer)
        # What it claims over the sync protocol: by default an empty sharechain (it passes for one of us).
        self.tip = Tip(NULL_HASH, -1, 0)
        self.inventory: tuple[bytes, ...] = ()  # the hashes it lists (GetHashes, GetRecent)
        self.shares: dict[bytes, bytes] = {}  # what it serves by hash, raw
        self.received: list[Message] = []  # every sync request, in order
        self.hold: trio.Event | None = None  # while set and not yet set off: answers wait for it

    def offer(self, tip: Tip, shares: list[Any]) -> None:
        """Claim ``tip`` and serve ``shares`` (parsed shares) by hash and in the inventory."""
        self.tip = tip
        self.inventory = tuple(s.hash for s in shares)
        self.shares = {s.hash: s.serialize() for s in shares}

    def _reply(self, request: Message) -> Message:
        if isinstance(request, GetTip):
            return self.tip
        if isinstance(request, GetPeers):
            return Peers(())
        if isinstance(request, (GetHashes, GetRecent)):
            return Hashes(self.inventory)
        if isinstance(request, GetSharesByHash):
            return Shares(tuple(self.shares[h] for h in request.hashes if h in self.shares))
        return Shares(())

    async def _answer(self, stream: Any) -> None:
        try:
            while (request := await read_message(stream, FrameDecoder())) is not None:
                self.received.append(request)
                if self.hold is not None:
                    await self.hold.wait()
                await stream.write(encode(self._reply(request)))
        except (StreamClosed, BaseLibp2pError, ValueError):
            pass
        finally:
            with trio.move_on_after(1):
                with contextlib.suppress(BaseLibp2pError):
                    await stream.close()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(self._run_shielded, stop)
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                stop.set()

    async def _run_shielded(self, stop: trio.Event, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        # As in the node: libp2p cancelled from outside leaves sockets open, so close the host first.
        with trio.CancelScope(shield=True):
            async with self.host.run(LISTEN), background_trio_service(self.pubsub), \
                    background_trio_service(self.router), trio.open_nursery() as nursery:
                await stop_auto_connector(self.host)
                await self.pubsub.wait_until_ready()
                nursery.start_soon(self._drain, await self.pubsub.subscribe(self.names.shares_topic))
                task_status.started()
                await stop.wait()
                with trio.move_on_after(5):
                    await close_host(self.host)
                nursery.cancel_scope.cancel()

    async def _drain(self, subscription: Any) -> None:
        while True:
            await subscription.get()

    async def connect(self, addr: str) -> bool:
        """Dial ``addr`` afresh (dropping what is left of an earlier connection the other side closed)."""
        info = parse_peer(addr)
        try:
            await disconnect_peer(self.host, info.peer_id, 5)
            with trio.fail_after(10):
                await self.host.connect(info)
            return True
        except (BaseLibp2pError, OSError, trio.TooSlowError):
            return False

    def connected_to(self, peer: str) -> bool:
        return bool(self.host.get_network().get_connections(ID.from_base58(peer)))

    async def wait_mesh(self, peer: str, timeout: float = 20) -> None:
        """Until a publish reaches ``peer``: it is a direct peer (nodes flood shares to their peers) and
        has told us it subscribes to the shares topic. :class:`ConnectionGone` if it hangs up meanwhile."""
        peer_id = ID.from_base58(peer)
        self.router.direct_peers[peer_id] = PeerInfo(peer_id, [])
        with trio.fail_after(timeout * TIMEOUT_FACTOR):
            while peer_id not in self.pubsub.peer_topics.get(self.names.shares_topic, set()):
                if not self.connected_to(peer):
                    raise ConnectionGone(f"{peer} hung up before the shares topic was joined")
                await trio.sleep(0.05)

    async def publish(self, data: bytes) -> None:
        """Gossip ``data`` on the shares topic, valid or not."""
        await self.pubsub.publish(self.names.shares_topic, data)

    async def send(self, peer: str, data: bytes, *, protocol: str | None = None) -> Message | None:
        """Open a sync stream, write ``data`` as is and return the reply (None: the stream was closed).

        :class:`ConnectionGone` when no stream can be opened (the peer hung up on us)."""
        try:
            with trio.fail_after(10):
                stream = await self.host.new_stream(ID.from_base58(peer), [TProtocol(protocol) if protocol else self.names.sync])
        except (BaseLibp2pError, trio.TooSlowError, OSError) as exc:
            raise ConnectionGone(str(exc)) from None
        try:
            with trio.fail_after(10):
                await stream.write(data)
                return await read_message(stream, FrameDecoder())
        except (BaseLibp2pError, StreamClosed, trio.TooSlowError, OSError):
            return None
        finally:
            with trio.move_on_after(1):
                with contextlib.suppress(BaseLibp2pError):
                    await stream.reset()

    async def request(self, peer: str, message: Message) -> Message | None:
        return await self.send(peer, encode(message))


def oversized_frame_header(length: int = 64 << 20) -> bytes:
    """A frame announcing ``length`` bytes, far over the limit: refused before any is buffered."""
    return struct.pack("<I", length) + b"\x01"


def malformed_frame() -> bytes:
    """A frame of an unknown message type."""
    return struct.pack("<I", 3) + b"\x7f\x00\x00"
