"""The P2P service a node runs in its nursery: host, gossip, sync both ways, peers, and their status.

It is the only place that knows all the parts: shares our miners find are announced by gossip;
shares from peers are validated through ``Pool.add_share`` like our own; the pool is told to hold
miners back while the node is behind its peers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from libp2p.peer.id import ID

from p2pool.config import ConfigError
from p2pool.metrics import NodeMetrics
from p2pool.p2p.banlist import BanList
from p2pool.p2p.discovery import Discovery, DiscoveryConfig, DiscoveryHooks
from p2pool.p2p.gossip import ShareGossip
from p2pool.p2p.host import (
    IDENTITY_FILE,
    ProtocolNames,
    build_host,
    close_host,
    load_identity,
    own_ips,
    parse_announce,
    parse_listen,
    parse_peer,
    peer_addr,
    stop_auto_connector,
)
from p2pool.p2p.messages import MAX_RECENT_DEPTH, GetPeers, Peers
from p2pool.p2p.peers import PeerConfig, PeerEvents, PeerManager
from p2pool.p2p.peerstore import AddressBook
from p2pool.p2p.ratelimit import RateLimiter
from p2pool.p2p.scoring import Offense
from p2pool.p2p.seedlist import split_seeds
from p2pool.p2p.sync import MainChainIndex, RecentShares, SyncProgress, progress
from p2pool.p2p.sync_client import ClientHooks, RequestFailed, SyncClient, SyncConfig
from p2pool.p2p.sync_server import ServerHooks, SyncServer
from p2pool.pool import Pool
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.bitcoin.serialize import ParseError
from sharechain.params import NetworkParams
from sharechain.result import AddStatus
from sharechain.share import MAX_SHARE_SIZE, Share

log = logging.getLogger("otedama.p2p")


@dataclass(frozen=True)
class P2PConfig:
    listen: tuple[str, ...]
    bootstrap: tuple[str, ...] = ()
    # What we tell peers we can be dialled at, instead of the listen addresses (behind NAT or a proxy).
    announce: tuple[str, ...] = ()
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    peers: PeerConfig = field(default_factory=PeerConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    # Miners wait while the best peer is more than this many shares ahead.
    behind_threshold: int = 3
    # With peers to ask, miners wait at start until one has answered (or this many seconds passed).
    initial_wait: float = 15.0
    # Per-peer limits: gossiped shares and sync requests (tokens per second, burst).
    gossip_rate: tuple[float, float] = (20.0, 200.0)
    request_rate: tuple[float, float] = (50.0, 500.0)


@dataclass
class _State:
    initial_pending: bool = False
    started_at: float = field(default_factory=time.monotonic)


class P2PService:
    def __init__(self, params: NetworkParams, pool: Pool, datadir: Path, config: P2PConfig,
                 metrics: NodeMetrics) -> None:
        self.params = params
        self.pool = pool
        self.config = config
        self.metrics = metrics
        self.listen = [parse_listen(text) for text in config.listen]
        bootstrap, seed_dns = split_seeds(config.bootstrap)
        key_pair = load_identity(datadir / IDENTITY_FILE)
        self.peer_id = str(ID.from_pubkey(key_pair.public_key))
        self.names = ProtocolNames.for_network(params)
        announce = [parse_announce(text) for text in config.announce]
        self.host = build_host(key_pair, self.listen, config.peers.target_outbound + config.peers.max_inbound,
                               announce)
        self.index = MainChainIndex()
        self.recent = RecentShares(MAX_RECENT_DEPTH)
        top = pool.chain.tip.height if pool.chain.tip else 0
        for record in pool.chain.records():
            if record.height >= top - MAX_RECENT_DEPTH:
                self.recent.add(record.height, record.hash)
        self.book = AddressBook(datadir / "peers.sqlite")
        self.peers = PeerManager(self.host, BanList(datadir / "bans.json"), self.book,
                                 PeerEvents(self._joined, self._left, self._ask_peers, self._banned),
                                 bootstrap, config.peers, identify_protocol=str(self.names.sync),
                                 own_ips=own_ips(self.listen + announce), announced=bool(announce),
                                 seed_dns=seed_dns)
        self.discovery = Discovery(self.host, self.names.kad, DiscoveryHooks(
            self.peers.connected, self.peers.learn_found, self.peers.reachable, self.peers.needs_addresses),
            config.discovery) if config.discovery.enabled else None
        self.gossip = ShareGossip(self.host, self.names.shares_topic, self._on_gossip)
        self.server = SyncServer(pool.chain, pool.store, self.index, self.recent,
                                 ServerHooks(self.peers.penalize, self._allow_request, self.peers.known_peers,
                                             self.peers.good))
        self.client = SyncClient(self.host, self.names.sync, pool, self.index,
                                 ClientHooks(self.peers.penalize, self.peers.good, self._sync_peers,
                                             self._update, self.peers.mark_foreign), config.sync)
        self._gossip_limit = RateLimiter(*config.gossip_rate)
        self._request_limit = RateLimiter(*config.request_rate)
        self._state = _State(initial_pending=bool(bootstrap) or bool(seed_dns) or len(self.book) > 0)
        self.addrs: list[str] = []
        self._workers: trio.Nursery | None = None

    # --- running -------------------------------------------------------------------------------------
    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        stop = trio.Event()
        try:
            async with trio.open_nursery() as nursery:
                task_status.started(await nursery.start(self._run_host, stop))
                try:
                    await trio.sleep_forever()
                finally:
                    stop.set()
        finally:
            self.pool.announce = self.pool.on_accepted = None
            self.book.close()

    async def _run_host(self, stop: trio.Event, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """The host and our tasks, shielded from outside cancellation until ``stop``.

        libp2p cancelled from outside leaves sockets open, so the way out is ordered: first our own
        tasks stop (nothing dials any more), then every connection is closed explicitly while libp2p
        still runs, then its services (gossip) are cancelled.
        """
        self.host.set_stream_handler(self.names.sync, self.server.handle)
        with trio.CancelScope(shield=True):
            async with self.host.run(self.listen), trio.open_nursery() as services:
                # libp2p does not fail when it cannot listen: it just listens on nothing.
                if len(self.host.get_transport_addrs()) < len(self.listen):
                    raise ConfigError(f"cannot listen for peers on {', '.join(map(str, self.listen))} (is the "
                                      "port in use by another node? choose another with --p2p)")
                await stop_auto_connector(self.host)
                await services.start(self.gossip.run)
                async with trio.open_nursery() as workers:
                    await self._start(workers, task_status)
                    await stop.wait()
                    workers.cancel_scope.cancel()
                with trio.move_on_after(5):
                    await close_host(self.host)
                services.cancel_scope.cancel()

    async def _start(self, nursery: trio.Nursery, task_status: Any) -> None:
        """Our tasks in ``nursery``; ``started`` with our listen addresses once they run."""
        self._workers = nursery
        await nursery.start(self.peers.run)
        if self.discovery is not None:
            await nursery.start(self.discovery.run)
        nursery.start_soon(self.client.run)
        nursery.start_soon(self._initial_deadline)
        self.pool.announce = self.announce
        self.pool.p2p_status = self.status
        self.pool.on_accepted = self._accepted
        # Where we listen (what we advertise may differ: --announce); get_addrs() would give the latter.
        self.addrs = [peer_addr(a, self.host.get_id()) for a in self.host.get_transport_addrs()]
        log.info("P2P peer ID %s, listening on %s", self.peer_id, ", ".join(self.addrs) or "-")
        self._update()
        task_status.started(self.addrs)

    async def _initial_deadline(self) -> None:
        await trio.sleep(self.config.initial_wait)
        if self._state.initial_pending:
            log.info("no peer answered within %.0f s; mining on our own sharechain", self.config.initial_wait)
            self._state.initial_pending = False
            self._update()

    def announce(self, share: Share) -> None:
        self.gossip.announce(share.serialize())

    def _accepted(self, shares: list[Share]) -> None:
        for share in shares:
            self.recent.add(share.info.height, share.hash)

    # --- peers ----------------------------------------------------------------------------------------
    def _sync_peers(self) -> list[str]:
        return [p for p in self.peers.connected() if p not in self.peers.foreign]

    def _joined(self, peer: str) -> None:
        log.info("peer %s connected (%d peers)", peer, len(self.peers.connected()))
        if self.discovery is not None:
            self.discovery.peer_joined()
        self._update()
        if self._workers is not None:
            self._workers.start_soon(self._exchange, peer)

    def _left(self, peer: str) -> None:
        log.info("peer %s disconnected (%d peers)", peer, len(self.peers.connected()))
        self.client.forget(peer)
        self.gossip.remove_direct(peer)
        self._gossip_limit.forget(peer)
        self._update()

    def _banned(self, peer: str) -> None:
        self.client.forget(peer)
        self.gossip.remove_direct(peer)

    async def _exchange(self, peer: str) -> None:
        """A new peer: learn its tip (and sync if it is ahead) and the peers it knows."""
        await self.client.poll_tip(peer)
        if peer in self.client.tips and peer in self.peers.connected():
            self.gossip.add_direct(peer)
        if self._state.initial_pending and peer in self.client.tips:
            self._state.initial_pending = False
        self._update()
        await self._ask_peers(peer)

    async def _ask_peers(self, peer: str) -> None:
        try:
            reply = await self.client.request(peer, GetPeers())
        except RequestFailed:
            return
        assert isinstance(reply, Peers)
        learned = self.peers.learn(peer, list(reply.addrs))
        log.debug("peer exchange with %s: %d addresses", peer, learned)

    def _allow_request(self, peer: str, cost: float) -> bool:
        return not self.peers.is_banned(peer) and self._request_limit.allow(peer, trio.current_time(), cost)

    async def control(self, action: str, argument: str) -> tuple[bool, str]:
        """The operator's peer control (the API's POST /api/p2p/connect and /disconnect)."""
        if action == "disconnect":
            if argument not in self.peers.connected():
                return False, f"not connected to {argument}"
            self.peers.disconnect(argument)
            return True, f"disconnecting {argument}"
        try:
            info = parse_peer(argument)
        except ValueError as exc:
            return False, str(exc)
        if await self.peers.connect(info, "operator"):
            return True, f"connected to {info.peer_id}"
        return False, f"could not connect to {argument}"

    # --- gossip ---------------------------------------------------------------------------------------
    async def _on_gossip(self, peer: str, origin: str, raw: bytes) -> bool:
        """Validate a gossiped share in full; True lets gossipsub forward it."""
        if self.peers.is_banned(peer) or self.peers.is_banned(origin):
            return False
        if len(raw) > MAX_SHARE_SIZE:
            self.peers.penalize(peer, Offense.OVERSIZED_MESSAGE, f"gossiped share of {len(raw)} bytes")
            return False
        if not self._gossip_limit.allow(peer, trio.current_time()):
            self.peers.penalize(peer, Offense.FLOOD, "gossiped shares over the rate limit")
            return False
        try:
            share = Share.parse(raw)
        except ParseError as exc:
            self.peers.penalize(peer, Offense.MALFORMED_MESSAGE, f"unreadable gossiped share: {exc}")
            return False
        if share.hash in self.pool.chain:
            self.client.note_share(peer, share.hash)
            return True
        result = self.pool.add_share(share, source=f"peer {peer[-8:]}")
        if result.status is AddStatus.INVALID and _peers_fault(result.error):
            self.peers.penalize(peer, Offense.INVALID_SHARE, f"invalid share {hash_to_hex(share.hash)[:16]}: "
                                                             f"{result.error}")
            return False
        if result.status is AddStatus.INVALID:
            return False
        if result.status is AddStatus.ORPHAN:
            await self.client.fetch_parents(peer, result.missing)
        if share.hash not in self.pool.chain:
            return False
        self.peers.good(peer)
        self.client.note_share(peer, share.hash)
        self._update()
        return True

    # --- status ---------------------------------------------------------------------------------------
    def progress(self) -> SyncProgress:
        tip = self.pool.chain.tip
        return progress(tip.height if tip else -1, self.client.tips, tip.chain_work if tip else 0,
                        self.client.syncing, self.config.behind_threshold)

    def _update(self) -> None:
        self.metrics.peers_connected.set(len(self.peers.connected()))
        self.pool.set_syncing(self._state.initial_pending or self.progress().behind)

    def status(self) -> dict[str, Any]:
        now = trio.current_time()
        sync = self.progress()
        peers = [{"id": p, "direction": "inbound" if p in self.peers.inbound else "outbound",
                  "score": round(self.peers.scores.score(p, now), 1),
                  "tip_height": self.client.tips[p].height if p in self.client.tips else None,
                  "found_by": self.peers.found_by.get(p)}
                 for p in self.peers.connected()]
        return {
            "peer_id": self.peer_id,
            "peers": len(peers),
            "sync": {**sync.as_dict(), "waiting_for_peers": self._state.initial_pending},
            "p2p": {"listen": self.addrs, "peers": peers, "network_protocol": str(self.names.sync),
                    "topic": self.names.shares_topic, "gossip_mesh": self.gossip.mesh_size(),
                    "gossip_links": self.gossip.links(),
                    "banned": len(self.peers.bans.active(time.time())),
                    "known_addresses": len(self.book),
                    "advertised": [str(a) for a in self.host.get_addrs()],
                    "discovery": self.discovery.status() if self.discovery is not None else None,
                    **self.peers.status()},
        }


def _peers_fault(error: str | None) -> bool:
    """Every broken rule is the sender's fault but one: a timestamp ahead of *our* clock (ours may lag)."""
    return "in the future" not in (error or "")
