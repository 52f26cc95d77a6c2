"""The libp2p host: TCP with Noise and yamux, a persistent Ed25519 identity, and our protocol names.

The identity key lives in the data directory (``p2p_identity.key``, 32-byte seed, mode 0600), so
a node's peer ID survives restarts. Every protocol ID and topic carries the network's name and id,
so nodes of different networks never exchange shares.
"""

from __future__ import annotations

import logging
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetConn
from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import InvalidAddrError
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport

# The pure address parsers live in p2pool.addresses (the config checks addresses with them too);
# they are re-exported here for the P2P code.
from p2pool.addresses import MULTIADDR_ERRORS, AddressError, parse_listen, parse_peer  # noqa: F401
from sharechain.params import NetworkParams

log = logging.getLogger("otedama.p2p")
IDENTITY_FILE = "p2p_identity.key"
# What the multiaddr and libp2p parsers raise for text that is not a usable address.
ADDRESS_ERRORS = (*MULTIADDR_ERRORS, InvalidAddrError)


@dataclass(frozen=True)
class ProtocolNames:
    """The network-specific libp2p names: the sync stream protocol and the shares gossip topic."""

    sync: TProtocol
    shares_topic: str

    @classmethod
    def for_network(cls, params: NetworkParams) -> ProtocolNames:
        prefix = f"/otedama/{params.name}/{params.network_id.hex()}"
        return cls(TProtocol(f"{prefix}/sync/1.0.0"), f"{prefix}/shares/1")


def load_identity(path: Path) -> KeyPair:
    """The node's key pair from ``path``, created (owner-only) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.new()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.to_bytes())
            handle.flush()
            os.fsync(handle.fileno())
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("identity key %s was readable by others (mode %o); restricting it to the owner", path, mode)
        path.chmod(0o600)
    seed = path.read_bytes()
    if len(seed) != 32:
        raise AddressError(f"identity key {path} is damaged ({len(seed)} bytes, expected 32); move it away to "
                           "create a new identity (the node's peer ID will change)")
    private = Ed25519PrivateKey.from_bytes(seed)
    return KeyPair(private, private.get_public_key())


def peer_addr(addr: multiaddr.Multiaddr, peer_id: ID) -> str:
    """``addr`` with ``/p2p/<peer_id>`` appended (once)."""
    text = str(addr)
    suffix = f"/p2p/{peer_id}"
    return text if text.endswith(suffix) else text + suffix


def build_host(key_pair: KeyPair, listen: list[multiaddr.Multiaddr], max_connections: int = 64) -> IHost:
    """A libp2p host on TCP, secured only with Noise, multiplexed with yamux.

    libp2p's own connection manager would dial every address in its peer store until it holds 100
    connections; ours (:mod:`p2pool.p2p.peers`) decides whom to dial, so that one is stopped once
    the host runs (:func:`stop_auto_connector`), and its pruning only starts above ``max_connections``.
    """
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    connections = ConnectionConfig(max_connections=max_connections + 16, min_connections=0, low_watermark=0,
                                   high_watermark=max_connections + 8, auto_connect_interval=3600.0)
    host = new_host(key_pair=key_pair, listen_addrs=listen, sec_opt={NOISE_PROTOCOL_ID: noise},
                    muxer_preference="YAMUX", connection_config=connections)
    _uncap_inbound(host)
    return host


def _uncap_inbound(host: IHost) -> None:
    """Lift libp2p 0.8.1's inbound connection cap, which leaks.

    Its swarm takes a slot of a ``max_connections`` limiter for each inbound connection and gives it
    back only when the whole swarm stops, not when the connection closes: after ``max_connections``
    inbound connections in its lifetime (80 here: a peer that restarted 80 times) a node silently
    closes every new one. Our peer manager caps inbound peers itself (``PeerConfig.max_inbound``).
    """
    swarm = host.get_network()
    if isinstance(getattr(swarm, "_inbound_limiter", None), trio.CapacityLimiter):
        swarm._inbound_limiter = trio.CapacityLimiter(math.inf)  # type: ignore[attr-defined]


async def stop_auto_connector(host: IHost) -> None:
    """Stop libp2p's connection manager from dialing every peer it has heard of (ours decides)."""
    auto = getattr(host.get_network(), "auto_connector", None)
    if auto is not None:
        await auto.stop()


async def close_host(host: IHost) -> None:
    """Close every connection explicitly, having first forgotten every peer address so that nothing
    (gossipsub retries its streams to departing peers) dials again while the host goes down."""
    peerstore = host.get_peerstore()
    for peer in peerstore.peer_ids():
        peerstore.clear_addrs(peer)
    connections = host.get_network().get_connections()
    try:
        await host.close()
    finally:
        close_sockets(connections)


async def disconnect_peer(host: IHost, peer: ID, timeout: float) -> bool:
    """Close our connections to ``peer``, waiting at most ``timeout`` for libp2p to say goodbye.

    Returns True when libp2p did not finish in time and the connections were torn down here: their
    sockets closed and the swarm's records of them dropped, without libp2p's "disconnected" event.
    """
    network = host.get_network()
    connections = network.get_connections(peer)
    try:
        with trio.move_on_after(timeout):
            await host.disconnect(peer)
    finally:
        forced = close_sockets(connections) > 0
        if forced:
            for connection in connections:
                network.remove_conn(connection)  # type: ignore[attr-defined]  # Swarm's, not in INetwork
    return forced


# The attributes that lead from a libp2p connection to its TCP socket: swarm connection -> yamux ->
# noise session -> noise framing -> raw connection -> libp2p's trio stream -> trio.SocketStream.
_PATH_TO_SOCKET = ("muxed_conn", "secured_conn", "conn", "read_writer", "read_write_closer", "stream", "stream")


def close_sockets(connections: list[INetConn]) -> int:
    """Close the TCP sockets under ``connections`` that are still open; returns how many were.

    libp2p 0.8.1 marks a connection closed before it closes the layers beneath, so a close that is
    cancelled half-way (a timeout, a node shutting down) leaves the socket open and the connection
    unclosable: only the garbage collector would ever close it. Closing the socket itself is what
    remains; libp2p's readers then see a closed resource and end.
    """
    closed = 0
    for connection in connections:
        stream = _tcp_stream(connection)
        if stream is not None and stream.socket.fileno() != -1:
            stream.socket.close()
            closed += 1
    return closed


def _tcp_stream(connection: object) -> trio.SocketStream | None:
    layer: object | None = connection
    for name in _PATH_TO_SOCKET:
        layer = getattr(layer, name, None)
    return layer if isinstance(layer, trio.SocketStream) else None
