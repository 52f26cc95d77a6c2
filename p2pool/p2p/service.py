"""The P2P service a node runs in its nursery: host, gossip, sync both ways, peers, and their status.

It is the only place that knows all the P2P parts. Shares from peers join through the node's
:class:`~p2pool.intake.ShareIntake` like our own; the shares our miners find reach it as
:class:`~p2pool.events.SharesAccepted` events and are gossiped; whether the node is behind its peers
is announced as :class:`~p2pool.events.SyncStateChanged`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStoreError

from p2pool.error import ConfigError
from p2pool.events import (
    PeerBanned,
    PeerConnected,
    PeerDisconnected,
    PeerPenalized,
    SharesAccepted,
    ShareSource,
    SourceKind,
    SyncRequestDone,
    SyncStateChanged,
)
from p2pool.intake import ShareIntake
from p2pool.p2p.banlist import BanList
from p2pool.p2p.blame import sender_at_fault
from p2pool.p2p.clocks import ClockSkew, SkewChanged
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
from p2pool.p2p.network_match import why_foreign
from p2pool.p2p.peers import PeerConfig, PeerEvents, PeerManager
from p2pool.p2p.peerstore import AddressBook, AddressError, check_peer_id
from p2pool.p2p.scoring import Offense
from p2pool.p2p.seedlist import split_seeds
from p2pool.p2p.sync import MainChainIndex, RecentShares, SyncProgress, progress
from p2pool.p2p.sync_client import ClientHooks, RequestFailed, SyncClient, SyncConfig
from p2pool.p2p.sync_server import ServerHooks, SyncServer
from p2pool.ratelimit import RateLimiter
from p2pool.storage.share_store import ShareStore, StoreWriteError
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.bitcoin.serialize import ParseError
from sharechain.chain import ShareChain
from sharechain.params import NetworkParams
from sharechain.result import AddStatus
from sharechain.share import MAX_SHARE_SIZE, Share

log = logging.getLogger("otedama.p2p")
_FOREIGN_KEPT = 16


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
    def __init__(self, params: NetworkParams, chain: ShareChain, store: ShareStore, intake: ShareIntake,
                 datadir: Path, config: P2PConfig, publish: Callable[[object], None], *,
                 clock: Callable[[], float] = time.time) -> None:
        """``clock``: the node's wall clock (epoch seconds), which peers' share timestamps are compared with."""
        self.params = params
        self._clock = clock
        # Half of what consensus allows a share ahead of the clock: past it, peers' shares start to fail.
        self.clocks = ClockSkew(params.max_future_seconds / 2)
        self.chain = chain
        self.intake = intake
        self.config = config
        self._publish = publish
        self._behind = False
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
        top = chain.tip.height if chain.tip else 0
        for record in chain.records():
            if record.height >= top - MAX_RECENT_DEPTH:
                self.recent.add(record.height, record.hash)
        self.book = AddressBook(datadir / "peers.sqlite")
        self.peers = PeerManager(self.host, BanList(datadir / "bans.json"), self.book,
                                 PeerEvents(self._joined, self._left, self._ask_peers, self._banned, self._foreign),
                                 bootstrap, config.peers, identify_protocol=str(self.names.sync),
                                 own_ips=own_ips(self.listen + announce), announced=bool(announce),
                                 seed_dns=seed_dns)
        self.discovery = Discovery(self.host, self.names.kad, DiscoveryHooks(
            self.peers.connected, self.peers.learn_found, self.peers.reachable, self.peers.needs_addresses),
            config.discovery) if config.discovery.enabled else None
        self.gossip = ShareGossip(self.host, self.names.shares_topic, self._on_gossip)
        self.server = SyncServer(chain, store, self.index, self.recent,
                                 ServerHooks(self.penalize, self._allow_request, self.peers.known_peers,
                                             self.peers.good))
        self.client = SyncClient(self.host, self.names.sync, chain, intake, self.index,
                                 ClientHooks(self.penalize, self.peers.good, self._sync_peers,
                                             self._update, self._foreign, self._request_done, self.peers.is_banned),
                                 config.sync)
        self._gossip_limit = RateLimiter(*config.gossip_rate)
        self._request_limit = RateLimiter(*config.request_rate)
        self._state = _State(initial_pending=bool(bootstrap) or bool(seed_dns) or len(self.book) > 0)
        self.addrs: list[str] = []
        # Peers found on another network, and why (the latest few, for the status).
        self.foreign_reasons: dict[str, str] = {}
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

    def on_shares_accepted(self, event: SharesAccepted) -> None:
        """Shares joined our chain: serve them as recent, and gossip those our own miners found."""
        for share in event.shares:
            self.recent.add(share.info.height, share.hash)
        if event.source.kind is SourceKind.LOCAL:
            for share in event.shares:
                self.gossip.announce(share.serialize())

    # --- peers ----------------------------------------------------------------------------------------
    def _sync_peers(self) -> list[str]:
        return [p for p in self.peers.connected() if p not in self.peers.foreign]

    def _joined(self, peer: str) -> None:
        log.info("peer %s connected (%d peers)", peer, len(self.peers.connected()))
        self._publish(PeerConnected(peer, peer in self.peers.inbound))
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
        self._clock_changed(self.clocks.forget(peer))
        self._publish(PeerDisconnected(peer))
        self._update()

    def _banned(self, peer: str) -> None:
        self.client.forget(peer)
        self.gossip.remove_direct(peer)
        self._publish(PeerBanned(peer))

    def _request_done(self, message: str, seconds: float, ok: bool) -> None:
        self._publish(SyncRequestDone(message, seconds, ok))

    async def _exchange(self, peer: str) -> None:
        """A new peer: learn its tip (and sync if it is ahead) and the peers it knows."""
        await self.client.poll_tip(peer)
        if peer in self.client.tips and peer in self.peers.connected() and not self.peers.is_banned(peer):
            self.gossip.add_direct(peer)  # (banned meanwhile: its connection is closing)
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

    def _foreign(self, peer: str) -> None:
        """``peer`` does not speak our sync protocol: say why (from what it announced), then drop it."""
        try:
            announced = self.host.get_peerstore().get_protocols(ID.from_base58(peer))
        except (PeerStoreError, ValueError):
            announced = []
        reason = why_foreign(str(self.names.sync), announced)
        if peer not in self.peers.foreign:
            log.warning("peer %s is not on our network: %s", peer, reason)
        self.foreign_reasons[peer] = reason
        while len(self.foreign_reasons) > _FOREIGN_KEPT:
            del self.foreign_reasons[next(iter(self.foreign_reasons))]
        self.peers.mark_foreign(peer)

    def penalize(self, peer: str, offense: Offense, reason: str) -> None:
        """Every penalty of every path goes through here: scored (maybe disconnected or banned) and announced."""
        self.peers.penalize(peer, offense, reason)
        self._publish(PeerPenalized(peer, offense.value, reason))

    def reload_bans(self) -> int:
        """The ban list read again from its file (SIGHUP); connected peers it now bans are dropped. Returns the
        bans in force; raises :class:`~p2pool.p2p.banlist.BanListError` for a damaged file (nothing changes)."""
        self.peers.bans.reload()
        for peer in self.peers.connected():
            if self.peers.is_banned(peer):
                log.info("peer %s is banned by the reloaded ban list; disconnecting", peer)
                self.peers.disconnect(peer)
        return len(self.peers.bans.active(time.time()))

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

    async def ban(self, peer: str, seconds: float, reason: str) -> tuple[bool, str]:
        """The operator bans ``peer`` (kept across restarts) and hangs up on it if connected."""
        try:
            check_peer_id(peer)
        except AddressError as exc:
            return False, str(exc)
        if peer == self.peer_id:
            return False, "that is this node's own peer ID"
        self.peers.bans.ban(peer, time.time() + seconds, reason)
        log.warning("peer %s banned by the operator for %.0f s: %s", peer, seconds, reason)
        self._banned(peer)
        if peer in self.peers.connected():
            self.peers.disconnect(peer)
        return True, f"banned {peer} for {seconds:.0f} s"

    async def unban(self, peer: str) -> tuple[bool, str]:
        if self.peers.bans.get(peer, time.time()) is None:
            return False, f"{peer} is not banned"
        self.peers.bans.unban(peer)
        log.info("peer %s unbanned by the operator", peer)
        return True, f"unbanned {peer}"

    def peer_list(self) -> list[dict[str, Any]]:
        """Every connected peer: direction, score, tip, addresses (the API's /api/peers)."""
        now = trio.current_time()
        return [{"id": p, "direction": "inbound" if p in self.peers.inbound else "outbound",
                 "score": round(self.peers.scores.score(p, now), 1),
                 "tip_height": self.client.tips[p].height if p in self.client.tips else None,
                 "addresses": self.peers.peer_addrs(p)[:4], "foreign": p in self.peers.foreign}
                for p in self.peers.connected()]

    def ban_list(self) -> list[dict[str, Any]]:
        return [{"id": b.peer, "until": b.until, "reason": b.reason} for b in self.peers.bans.active(time.time())]

    # --- gossip ---------------------------------------------------------------------------------------
    async def _on_gossip(self, peer: str, origin: str, raw: bytes) -> bool:
        """Validate a gossiped share in full; True lets gossipsub forward it."""
        if self.peers.is_banned(peer) or self.peers.is_banned(origin):
            return False
        if len(raw) > MAX_SHARE_SIZE:
            self.penalize(peer, Offense.OVERSIZED_MESSAGE, f"gossiped share of {len(raw)} bytes")
            return False
        if not self._gossip_limit.allow(peer, trio.current_time()):
            self.penalize(peer, Offense.FLOOD, "gossiped shares over the rate limit")
            return False
        try:
            share = Share.parse(raw)
        except ParseError as exc:
            self.penalize(peer, Offense.MALFORMED_MESSAGE, f"unreadable gossiped share: {exc}")
            return False
        if share.hash in self.chain:
            self.client.note_share(peer, share.hash)
            return True
        try:
            result = self.intake.add(share, ShareSource(SourceKind.GOSSIP, peer=peer))
        except StoreWriteError:
            return False  # not kept: not relayed either (the intake logged why)
        if not sender_at_fault(result):  # its proof of work held: its timestamp is worth reading
            self._observe_clock(origin, share)
        if sender_at_fault(result):
            self.penalize(peer, Offense.INVALID_SHARE, f"invalid share {hash_to_hex(share.hash)[:16]}: "
                                                             f"{result.error}")
            return False
        if result.status is AddStatus.INVALID:
            return False
        if result.status is AddStatus.ORPHAN:
            await self.client.fetch_parents(peer, result.missing)
        if share.hash not in self.chain:
            return False
        self.peers.good(peer)
        self.client.note_share(peer, share.hash)
        self._update()
        return True

    def _observe_clock(self, origin: str, share: Share) -> None:
        """A fresh share's timestamp as a reading of its finder's clock, unless it was raised to just after
        the chain's median time (then it says only that the finder's clock was not ahead of that)."""
        parent = self.chain.get(share.info.prev_hash)
        if parent is not None and share.info.timestamp == self.chain.median_time(parent) + 1:
            return
        self._clock_changed(self.clocks.observe(origin, share.info.timestamp, self._clock()))

    def _clock_changed(self, change: SkewChanged | None) -> None:
        if change is None:
            return
        if change.beyond:
            log.warning("this node's clock is %+.0f s from its peers' (the median over %d peers' shares): past %.0f s "
                        "shares fail the consensus time rule (timestamp-in-future) between us; check NTP",
                        change.skew, change.peers, self.clocks.threshold)
        else:
            log.info("this node's clock is within %.0f s of its peers' again (%+.0f s)", self.clocks.threshold,
                     change.skew)

    # --- status ---------------------------------------------------------------------------------------
    def progress(self) -> SyncProgress:
        tip = self.chain.tip
        return progress(tip.height if tip else -1, self.client.tips, tip.chain_work if tip else 0,
                        self.client.syncing, self.config.behind_threshold, self.chain)

    def _update(self) -> None:
        behind = self._state.initial_pending or self.progress().behind
        if behind != self._behind:
            self._behind = behind
            self._publish(SyncStateChanged(behind))

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
                    # Our clock minus our peers' (seconds, from their shares' timestamps; None: no share yet).
                    "clock_skew": None if (skew := self.clocks.skew()) is None else round(skew, 1),
                    "foreign": [{"id": p, "reason": r} for p, r in self.foreign_reasons.items()],
                    "known_addresses": len(self.book),
                    "advertised": [str(a) for a in self.host.get_addrs()],
                    "discovery": self.discovery.status() if self.discovery is not None else None,
                    **self.peers.status()},
        }

