"""Peers found through the network's own Kademlia DHT (py-libp2p 0.8.1's ``kad_dht``), besides seeds
and peer exchange.

Each network has a DHT of its own: libp2p's Kademlia runs on ``/otedama/<network>/<id>/kad/1.0.0``
instead of its fixed ``/ipfs/kad/1.0.0`` (0.8.1 ignores its ``protocol_prefix``), through a view of the
host that renames the protocol both ways (:class:`_NetworkHost`). A devnet node and a mainnet node
cannot even open a DHT stream to each other, so neither enters the other's routing table.

The DHT never dials: it talks over connections the peer manager already holds (its lookups would
otherwise open a connection to every peer they hear of and never close one, outside every limit).
Each round seeds the routing table with the connected peers that serve our DHT, looks up our own ID
and a few random keys, and hands what the lookups return (peers with the addresses the peers we asked
know them by) to the address book as found by "dht"; the peer manager dials from the book, within its
limits. So a lookup reaches one hop further each round, as connections change: enough for finding
peers, which is all the DHT is used for (no values, no provider records).

Values are refused (a strict validator with no namespace: 0.8.1 would otherwise store any record a
peer sends, up to 50,000 of them) and its provider store, which 0.8.1 fills from any peer whatever
``enable_providers`` says, is emptied every round. A node that nobody can dial (see
:mod:`p2pool.p2p.reachability`) runs the DHT in client mode: it asks, but does not answer, so peers
do not put its address in their routing tables.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import trio
from libp2p.abc import IHost
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.kad_dht import DHTMode, KadDHT
from libp2p.kad_dht.common import PROTOCOL_ID as KAD_PROTOCOL
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStoreError
from libp2p.records.validator import NamespacedValidator

from p2pool.p2p.host import peer_addr

log = logging.getLogger("otedama.p2p.discovery")


@dataclass(frozen=True)
class DiscoveryConfig:
    enabled: bool = True
    # The first round soon after a peer connects; while the peer manager is short of addresses to dial and
    # rounds bring new ones, they follow each other every ``first_interval``, otherwise the pause doubles
    # up to ``interval`` (each pause varied by ±20 %).
    first_interval: float = 1.0
    interval: float = 60.0
    # Random keys looked up per round, besides our own peer ID.
    lookups: int = 2
    lookup_timeout: float = 15.0
    # Addresses handed to the address book per round, at most.
    max_found: int = 64

    def __post_init__(self) -> None:
        if not 0 < self.first_interval <= self.interval or self.lookup_timeout <= 0:
            raise ValueError("discovery intervals must be positive, first_interval <= interval")
        if self.lookups < 0 or self.max_found < 1:
            raise ValueError("lookups must be >= 0 and max_found >= 1")


class NotConnected(BaseLibp2pError):
    """The DHT asked for a stream to a peer we hold no connection to (it never dials)."""


class _NetworkPeerstore:
    """The host's peer store, reporting our network's DHT protocol under the name libp2p checks for."""

    def __init__(self, real: Any, protocol: str) -> None:
        self._real = real
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def get_protocols(self, peer: ID) -> list[str]:
        return [KAD_PROTOCOL if p == self._protocol else p for p in self._real.get_protocols(peer)]


class _NetworkHost:
    """The host as the DHT sees it: our network's DHT protocol in place of libp2p's fixed one, and
    streams only over existing connections."""

    def __init__(self, real: IHost, protocol: TProtocol) -> None:
        self._real = real
        self._protocol = protocol
        self._peerstore = _NetworkPeerstore(real.get_peerstore(), protocol)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _rename(self, protocol: TProtocol) -> TProtocol:
        return self._protocol if protocol == KAD_PROTOCOL else protocol

    def get_peerstore(self) -> Any:
        return self._peerstore

    def set_stream_handler(self, protocol: TProtocol, handler: Any) -> None:
        self._real.set_stream_handler(self._rename(protocol), handler)

    def remove_stream_handler(self, protocol: TProtocol) -> None:
        self._real.remove_stream_handler(self._rename(protocol))  # BasicHost's

    async def new_stream(self, peer: ID, protocols: Sequence[TProtocol]) -> Any:
        if not self._real.get_network().get_connections(peer):
            raise NotConnected(f"not connected to {peer}")
        return await self._real.new_stream(peer, [self._rename(p) for p in protocols])


@dataclass
class DiscoveryHooks:
    peers: Callable[[], list[str]]  # counted peers (of our network)
    found: Callable[[list[str], str], int]  # addresses found -> the address book; returns how many were new
    reachable: Callable[[], bool]  # False once we know nobody can dial us (DHT client mode)
    wanted: Callable[[], bool] = lambda: True  # short of peers to dial: look again soon


class Discovery:
    def __init__(self, host: IHost, protocol: TProtocol, hooks: DiscoveryHooks,
                 config: DiscoveryConfig = DiscoveryConfig()) -> None:
        self.host = host
        self.protocol = protocol
        self.hooks = hooks
        self.config = config
        validator = NamespacedValidator({}, strict_validation=True)
        self.dht = KadDHT(cast(IHost, _NetworkHost(host, protocol)), DHTMode.SERVER, validator=validator,
                          validator_changed=True, strict_validation=True, enable_providers=False, enable_values=False)
        self.rounds = 0
        self.found = 0
        self._wake = trio.Event()

    def peer_joined(self) -> None:
        """A new peer connected: the next round need not wait long."""
        self._wake.set()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        delay = self.config.first_interval
        while True:
            with trio.move_on_after(delay):
                await self._wake.wait()
            self._wake = trio.Event()
            if not self.hooks.peers():
                delay = self.config.first_interval
                continue
            learned = await self.round()
            # Soon again while short of addresses to dial and a round still brings new ones; otherwise less
            # and less often (a round that brought nothing, retried at once by every node joining through the
            # same seed, only loads the seed: libp2p's DHT handler serves 12 streams at once and resets the rest).
            soon = learned > 0 and self.hooks.wanted()
            delay = self.config.first_interval if soon else min(delay * 2, self.config.interval)
            delay *= random.uniform(0.8, 1.2)  # rounds of nodes started together drift apart

    async def round(self) -> int:
        """One round of lookups; returns how many new addresses went to the address book."""
        started = trio.current_time()
        await self._mode()
        for peer in self.hooks.peers():
            if self._serves_dht(peer):
                await self.dht.add_peer(ID.from_base58(peer), skip_server_mode_check=True)
        keys = [self.host.get_id().to_bytes()] + [os.urandom(32) for _ in range(self.config.lookups)]
        results: dict[ID, None] = {}
        with trio.move_on_after(self.config.lookup_timeout):
            for key in keys:
                for peer_id in await self.dht.peer_routing.find_closest_peers_network(key):
                    results[peer_id] = None
        addrs = self._addrs(list(results))[: self.config.max_found]
        learned = self.hooks.found(addrs, "dht") if addrs else 0
        self.rounds += 1
        self.found += learned
        log.debug("DHT round %d (%.1f s): %d peers in the routing table, %d found, %d new", self.rounds,
                  trio.current_time() - started, self.dht.get_routing_table_size(), len(results), learned)
        self._prune()
        return learned

    def status(self) -> dict[str, Any]:
        return {"mode": self.dht.mode.value.lower(), "routing_table": self.dht.get_routing_table_size(),
                "rounds": self.rounds, "found": self.found, "protocol": str(self.protocol)}

    # --- inside ---------------------------------------------------------------------------------------
    async def _mode(self) -> None:
        wanted = DHTMode.SERVER if self.hooks.reachable() else DHTMode.CLIENT
        if self.dht.mode is not wanted:
            log.info("DHT in %s mode (%s)", wanted.value.lower(),
                     "peers can dial us" if wanted is DHTMode.SERVER else "nobody can dial us")
            await self.dht.switch_mode(wanted)

    def _serves_dht(self, peer: str) -> bool:
        try:
            return str(self.protocol) in self.host.get_peerstore().get_protocols(ID.from_base58(peer))
        except PeerStoreError:
            return False

    def _addrs(self, peers: list[ID]) -> list[str]:
        me = self.host.get_id()
        out: list[str] = []
        for peer in peers:
            if peer == me:
                continue
            try:
                addrs = self.host.get_peerstore().addrs(peer)
            except PeerStoreError:
                continue
            for addr in addrs[:2]:
                text = str(addr)
                if "/tcp/" in text and "/ip4/0.0.0.0/" not in text and "/ip6/::/" not in text \
                        and "/p2p-circuit" not in text:
                    out.append(peer_addr(addr, peer))
        return out

    def _prune(self) -> None:
        """Drop what 0.8.1's DHT stores for any peer that asks (we use neither values nor providers)."""
        self.dht.provider_store.providers.clear()
        self.dht.value_store.store.clear()
