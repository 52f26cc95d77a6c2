"""The libp2p host: TCP with Noise and yamux, a persistent Ed25519 identity, and our protocol names.

The identity key lives in the data directory (``p2p_identity.key``, 32-byte seed, mode 0600), so
a node's peer ID survives restarts. Every protocol ID and topic carries the network's name and id,
so nodes of different networks never exchange shares.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Callable
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
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import InvalidAddrError
from libp2p.peer.peerstore import PeerStoreError
from libp2p.protocol_muxer.exceptions import MultiselectClientError, ProtocolNotSupportedError
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.utils.address_validation import expand_wildcard_address

from p2pool.addresses import MULTIADDR_ERRORS, AddressError, parse_announce, parse_listen, parse_peer  # noqa: F401

# The pure address parsers live in p2pool.addresses (the config checks addresses with them too);
# they are re-exported here for the P2P code.
from p2pool.p2p.dials import track_dials, tracker_of
from p2pool.p2p.messages import SYNC_VERSION
from p2pool.p2p.sockets import close_sockets
from sharechain.params import NetworkParams

log = logging.getLogger("otedama.p2p")
IDENTITY_FILE = "p2p_identity.key"
# What the multiaddr and libp2p parsers raise for text that is not a usable address.
ADDRESS_ERRORS = (*MULTIADDR_ERRORS, InvalidAddrError)


@dataclass(frozen=True)
class ProtocolNames:
    """The network-specific libp2p names: the sync stream protocol, the shares gossip topic and the
    Kademlia DHT's protocol (so that each network has a DHT of its own)."""

    sync: TProtocol
    shares_topic: str
    kad: TProtocol

    @classmethod
    def for_network(cls, params: NetworkParams) -> ProtocolNames:
        prefix = f"/otedama/{params.name}/{params.network_id.hex()}"
        return cls(TProtocol(f"{prefix}/sync/{SYNC_VERSION}"), f"{prefix}/shares/1", TProtocol(f"{prefix}/kad/1.0.0"))


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


def advertised_addrs(announce: list[multiaddr.Multiaddr]) -> Callable[[list[multiaddr.Multiaddr]],
                                                                      list[multiaddr.Multiaddr]]:
    """What the host tells peers (identify, the DHT, peer exchange) it can be dialled at.

    ``--announce`` addresses when given (a node behind NAT or a proxy); otherwise its listen addresses,
    with a wildcard (0.0.0.0, ::) replaced by this machine's interface addresses, which libp2p 0.8.1
    would advertise as they are (no peer can dial 0.0.0.0).
    """
    expanded: dict[str, list[multiaddr.Multiaddr]] = {}

    def factory(candidates: list[multiaddr.Multiaddr]) -> list[multiaddr.Multiaddr]:
        if announce:
            return list(announce)
        out: list[multiaddr.Multiaddr] = []
        for addr in candidates:
            text = str(addr)
            if text.startswith(("/ip4/0.0.0.0/", "/ip6/::/")):
                if text not in expanded:  # interfaces rarely change; a restart picks up new ones
                    expanded[text] = [a for a in expand_wildcard_address(addr) if not a.value_for_protocol(
                        "ip4" if text.startswith("/ip4") else "ip6").startswith(("0.0.0.0", "::"))]
                out += expanded[text]
            else:
                out.append(addr)
        return list({str(a): a for a in out}.values())

    return factory


def own_ips(addrs: list[multiaddr.Multiaddr]) -> frozenset[str]:
    """The IPs among ``addrs`` (listen and announced), wildcards expanded to this machine's addresses."""
    out: set[str] = set()
    for addr in advertised_addrs([])(addrs):
        for name in ("ip4", "ip6"):
            try:
                out.add(addr.value_for_protocol(name))
            except ADDRESS_ERRORS + (multiaddr.exceptions.ProtocolLookupError,):
                continue
    return frozenset(out)


def peer_addr(addr: multiaddr.Multiaddr, peer_id: ID) -> str:
    """``addr`` with ``/p2p/<peer_id>`` appended (once)."""
    text = str(addr)
    suffix = f"/p2p/{peer_id}"
    return text if text.endswith(suffix) else text + suffix


def build_host(key_pair: KeyPair, listen: list[multiaddr.Multiaddr], max_connections: int = 64,
               announce: list[multiaddr.Multiaddr] | None = None) -> IHost:
    """A libp2p host on TCP, secured only with Noise, multiplexed with yamux, advertising
    :func:`advertised_addrs`.

    libp2p's own connection manager would dial every address in its peer store until it holds 100
    connections; ours (:mod:`p2pool.p2p.peers`) decides whom to dial, so that one is stopped once
    the host runs (:func:`stop_auto_connector`), and its pruning only starts above ``max_connections``.
    """

    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    # One connection per peer: a dial returns as soon as it is up (with more allowed, libp2p 0.8.1 holds every
    # dial for its 250 ms happy-eyeballs delay, waiting for a second connection that we never use).
    connections = ConnectionConfig(max_connections=max_connections + 16, min_connections=0, low_watermark=0,
                                   high_watermark=max_connections + 8, auto_connect_interval=3600.0,
                                   max_connections_per_peer=1)
    host = new_host(key_pair=key_pair, listen_addrs=listen, sec_opt={NOISE_PROTOCOL_ID: noise},
                    muxer_preference="YAMUX", connection_config=connections,
                    addrs_factory=advertised_addrs(list(announce or [])))
    track_dials(host)
    return host


async def stop_auto_connector(host: IHost) -> None:
    """Stop libp2p's connection manager from dialing every peer it has heard of (ours decides)."""
    auto = getattr(host.get_network(), "auto_connector", None)
    if auto is not None:
        await auto.stop()


async def speaks(host: IHost, peer: ID, protocol: str) -> bool | None:
    """Whether connected ``peer`` speaks ``protocol``: a stream is negotiated, then closed unused.

    None when it cannot be told (no connection any more, or it broke). Only existing connections are
    used: nothing is dialled.
    """
    if not host.get_network().get_connections(peer):
        return None
    try:
        stream = await host.new_stream(peer, [TProtocol(protocol)])
    except (BaseLibp2pError, OSError, trio.BrokenResourceError, trio.ClosedResourceError, ValueError) as exc:
        return False if protocol_unsupported(exc) else None
    with trio.CancelScope(shield=True), trio.move_on_after(2), contextlib.suppress(BaseLibp2pError):
        await stream.close()
    return True


def protocol_unsupported(exc: BaseException) -> bool:
    """Whether opening a stream failed because the peer does not speak the protocol (another network)."""
    cause = exc.__cause__
    if isinstance(cause, ProtocolNotSupportedError):
        return True
    return isinstance(cause, MultiselectClientError) and "not supported" in str(cause)


def observed_ips(host: IHost) -> list[str]:
    """The IPs peers report seeing us at (identify's observed address, as libp2p records it: loopback
    observations are not recorded)."""
    manager = getattr(host, "_observed_addr_manager", None)
    out: list[str] = []
    for addr in manager.addrs(min_observers=1) if manager is not None else []:
        for name in ("ip4", "ip6"):
            try:
                out.append(addr.value_for_protocol(name))
            except ADDRESS_ERRORS + (multiaddr.exceptions.ProtocolLookupError,):
                continue
    return list(dict.fromkeys(out))


async def close_host(host: IHost) -> None:
    """Close every connection explicitly, having first forgotten every peer address so that nothing
    (gossipsub retries its streams to departing peers) dials again while the host goes down."""
    peerstore = host.get_peerstore()
    for peer in peerstore.peer_ids():
        try:
            peerstore.clear_addrs(peer)
        except PeerStoreError:  # a peer whose record expired meanwhile has no address left to forget
            continue

    connections = host.get_network().get_connections()
    try:
        await host.close()
    finally:
        # Those it had when asked, and any handed to it while it closed (an inbound handshake that
        # finished meanwhile): each socket is closed here, so no peer is left holding a live one.
        close_sockets(connections + host.get_network().get_connections())
        tracker = tracker_of(host)
        if tracker is not None:
            tracker.close_all()


async def close_connection(host: IHost, connection: INetConn, timeout: float) -> bool:
    """Close one connection (as :func:`disconnect_peer` does all of a peer's); True when forced."""
    try:
        with trio.move_on_after(timeout):
            await connection.close()
    except (BaseLibp2pError, OSError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:  # also when this is cancelled (the node stopping): libp2p has dropped the connection by then
        forced = _tear_down(host, [connection])
    return forced


async def disconnect_peer(host: IHost, peer: ID, timeout: float) -> bool:
    """Close our connections to ``peer``, waiting at most ``timeout`` for libp2p to say goodbye.

    Returns True when libp2p did not finish in time and the connections were torn down here: their
    sockets closed and the swarm's records of them dropped, without libp2p's "disconnected" event.
    """
    connections = host.get_network().get_connections(peer)
    try:
        with trio.move_on_after(timeout):
            await host.disconnect(peer)
    finally:
        forced = _tear_down(host, connections)
    return forced


def _tear_down(host: IHost, connections: list[INetConn]) -> bool:
    """Close the sockets of ``connections``; drop those the swarm still lists. True if there were any."""
    close_sockets(connections)
    network = host.get_network()
    listed = [c for c in connections if c in network.get_connections(c.muxed_conn.peer_id)]
    for connection in listed:
        network.remove_conn(connection)  # type: ignore[attr-defined]  # Swarm's, not in INetwork
    return bool(listed)
