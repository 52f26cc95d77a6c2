"""Who we are connected to: outbound dials toward a target, an inbound cap, scores, bans, peer exchange.

Scores (:mod:`p2pool.p2p.scoring`), bans (:mod:`p2pool.p2p.banlist`, persisted, so they survive a
restart) and the address book (:mod:`p2pool.p2p.peerstore`) are pure or plain storage; this is the
adapter that applies their verdicts to the libp2p host.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import multiaddr
import trio
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.exceptions import BaseLibp2pError
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import PeerStoreError

from p2pool.p2p.banlist import BanList
from p2pool.p2p.host import ADDRESS_ERRORS, disconnect_peer, peer_addr
from p2pool.p2p.peerstore import AddressBook, AddressError
from p2pool.p2p.scoring import Offense, PeerScores, ScoreConfig

log = logging.getLogger("otedama.p2p.peers")
# A share with valid proof of work that breaks a rule is deliberate (it cost work to make), as Bitcoin
# Core treats an invalid block: banned at once. The rest keep the scoring module's defaults.
SCORES = ScoreConfig(invalid_share=-120.0)  # below the ban threshold even from the best score


@dataclass(frozen=True)
class PeerConfig:
    target_outbound: int = 8
    max_inbound: int = 32
    dial_timeout: float = 10.0
    # How long libp2p may take to close a connection (its goodbye frames) before we close the socket.
    disconnect_timeout: float = 5.0
    maintain_interval: float = 5.0
    # While short of outbound peers with nobody new to dial, ask a connected peer for more this often.
    exchange_interval: float = 30.0
    # Peers that do not speak our network's protocol are not dialled again for this long.
    foreign_backoff: float = 3600.0


@dataclass
class PeerEvents:
    """What the rest of the service wants to hear about peers."""

    joined: Callable[[str], None]  # a new peer: the service polls its tip and asks it for peers
    left: Callable[[str], None]
    ask_peers: Callable[[str], Any]  # async: ask a connected peer for the peers it knows (learn)
    banned: Callable[[str], None]


class _Notifee(INotifee):
    def __init__(self, send: trio.MemorySendChannel[tuple[str, str, bool]]) -> None:
        self._send = send

    def _post(self, kind: str, conn: INetConn) -> None:
        direction = str(getattr(conn, "direction", "")).lower()
        with contextlib.suppress(trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            self._send.send_nowait((kind, str(conn.muxed_conn.peer_id), "inbound" in direction))

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._post("connected", conn)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._post("disconnected", conn)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass


@dataclass
class PeerManager:
    host: IHost
    bans: BanList
    book: AddressBook
    events: PeerEvents
    bootstrap: list[PeerInfo]
    config: PeerConfig = PeerConfig()
    scores: PeerScores = field(default_factory=lambda: PeerScores(SCORES))
    wall_clock: Callable[[], float] = time.time
    inbound: set[str] = field(default_factory=set)
    outbound: set[str] = field(default_factory=set)
    foreign: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._events_send, self._events_recv = trio.open_memory_channel[tuple[str, str, bool]](4096)
        self.host.get_network().register_notifee(_Notifee(self._events_send))
        self.me = str(self.host.get_id())
        self._nursery: trio.Nursery | None = None
        self._dialing: set[str] = set()
        self._asked = 0
        self._next_exchange = 0.0

    # --- queries --------------------------------------------------------------------------------------
    def connected(self) -> list[str]:
        return sorted(self.inbound | self.outbound)

    def peer_addrs(self, peer: str) -> list[str]:
        """Dialable addresses of a connected peer (its listen addresses, learned by identify)."""
        out = []
        try:
            addrs = self.host.get_peerstore().addrs(ID.from_base58(peer))
        except PeerStoreError:  # identify has not told us its addresses (yet)
            return []
        for addr in addrs:
            text = str(addr)
            if "/tcp/" in text and "/0.0.0.0/" not in text and "/p2p-circuit" not in text:
                out.append(peer_addr(addr, ID.from_base58(peer)))
        return out

    def known_peers(self, asker: str) -> list[str]:
        """Addresses to share with ``asker``: connected peers first, then recently good ones from the book."""
        now = self.wall_clock()
        out: list[str] = []
        for peer in self.connected():
            if peer != asker and not self.bans.is_banned(peer, now):
                out += self.peer_addrs(peer)[:2]
        for peer, addrs in self.book.candidates(now, exclude={asker, *self.connected()}, limit=50):
            if not self.bans.is_banned(peer, now):
                out += addrs[:1]
        return list(dict.fromkeys(out))

    # --- scoring ----------------------------------------------------------------------------------------
    def penalize(self, peer: str, offense: Offense, reason: str) -> None:
        verdict = self.scores.record(peer, offense, trio.current_time())
        log.warning("peer %s: %s (%s)", peer, reason, verdict.reason)
        if verdict.ban_seconds > 0:
            self.bans.ban(peer, self.wall_clock() + verdict.ban_seconds, f"{offense.value}: {reason}")
            log.warning("peer %s banned for %.0f s", peer, verdict.ban_seconds)
            self.events.banned(peer)
        if verdict.disconnect:
            self.disconnect(peer)

    def good(self, peer: str) -> None:
        self.scores.good(peer, trio.current_time())

    def is_banned(self, peer: str) -> bool:
        return self.bans.is_banned(peer, self.wall_clock())

    def mark_foreign(self, peer: str) -> None:
        """``peer`` speaks another network's protocol: drop it and do not dial it again soon."""
        if peer not in self.foreign:
            log.info("disconnecting peer %s: not on our network", peer)
        self.foreign[peer] = trio.current_time() + self.config.foreign_backoff
        self.disconnect(peer)

    def disconnect(self, peer: str) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._disconnect, peer)

    async def _disconnect(self, peer: str) -> None:
        try:
            if await disconnect_peer(self.host, ID.from_base58(peer), self.config.disconnect_timeout):
                log.info("peer %s did not close its connection in time; closed it here", peer)
        except (BaseLibp2pError, OSError, trio.BrokenResourceError) as exc:
            log.debug("disconnecting %s: %s", peer, exc)
        # A connection closed here rather than by libp2p comes with no "disconnected" event.
        self._on_disconnected(peer)

    # --- running -------------------------------------------------------------------------------------------
    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._handle_events)
            task_status.started()
            while True:
                await self._maintain(nursery)
                await trio.sleep(self.config.maintain_interval)

    async def connect(self, info: PeerInfo, source: str) -> bool:
        """Dial ``info``; True once connected. Bans and the address book are respected and updated."""
        peer = str(info.peer_id)
        now = self.wall_clock()
        if peer == self.me or self.is_banned(peer) or peer in self._dialing:
            return False
        self._dialing.add(peer)
        try:
            with trio.move_on_after(self.config.dial_timeout):
                await self.host.connect(info)
                self.outbound.add(peer)
                self.inbound.discard(peer)
                self.book.mark_connected(peer, now)
                return True
            log.info("dial to %s timed out", peer)
        except (BaseLibp2pError, OSError, trio.BrokenResourceError, ValueError) as exc:
            log.info("cannot connect to %s (%s): %s", peer, source, exc)
        finally:
            self._dialing.discard(peer)
        self.book.mark_failed(peer, now)
        return False

    async def _maintain(self, nursery: trio.Nursery) -> None:
        """Dial toward the outbound target: bootstrap peers first, then the address book; when the book
        runs dry, ask one connected peer (in turn) for the peers it knows."""
        now = self.wall_clock()
        self.bans.prune(now)
        missing = self.config.target_outbound - len(self.outbound)
        if missing <= 0:
            return
        exclude = {self.me, *self.connected(), *self._dialing,
                   *(p for p, until in self.foreign.items() if until > trio.current_time())}
        wanted: list[PeerInfo] = [info for info in self.bootstrap if str(info.peer_id) not in exclude]
        for peer, addrs in self.book.candidates(now, exclude=exclude, limit=missing * 2):
            info = _info(peer, addrs)
            if info is not None and all(str(w.peer_id) != peer for w in wanted):
                wanted.append(info)
        for info in wanted[:missing]:
            nursery.start_soon(self.connect, info, "book")
        if len(wanted) < missing and self.connected() and trio.current_time() >= self._next_exchange:
            self._next_exchange = trio.current_time() + self.config.exchange_interval
            self._asked += 1
            nursery.start_soon(self.events.ask_peers, self.connected()[self._asked % len(self.connected())])

    async def _handle_events(self) -> None:
        async for kind, peer, inbound in self._events_recv:
            if kind == "connected":
                await self._on_connected(peer, inbound)
            else:
                self._on_disconnected(peer)

    def _on_disconnected(self, peer: str) -> None:
        if self.host.get_network().get_connections(ID.from_base58(peer)):
            return  # another connection to the peer remains
        known = peer in self.inbound or peer in self.outbound
        self.inbound.discard(peer)
        self.outbound.discard(peer)
        if known:
            self.events.left(peer)

    async def _on_connected(self, peer: str, inbound: bool) -> None:
        if self.is_banned(peer):
            log.info("refusing banned peer %s", peer)
            self.disconnect(peer)
            return
        if peer in self.inbound or peer in self.outbound:
            return
        if inbound and peer not in self._dialing:
            if len(self.inbound) >= self.config.max_inbound:
                log.info("inbound connection from %s refused: %d inbound peers is the limit", peer,
                         self.config.max_inbound)
                self.disconnect(peer)
                return
            self.inbound.add(peer)
        else:
            self.outbound.add(peer)
        self.events.joined(peer)

    def learn(self, source: str, addrs: list[str]) -> int:
        """Addresses a peer told us about go into the address book; returns how many peers were usable."""
        now = self.wall_clock()
        learned = 0
        for text in addrs:
            info = _info_from_text(text)
            if info is None or str(info.peer_id) in (self.me, source) or text in self.book.get(str(info.peer_id)):
                continue
            try:
                self.book.add(str(info.peer_id), [text], now, "pex")
                learned += 1
            except AddressError:
                continue
        return learned


def _info(peer: str, addrs: list[str]) -> PeerInfo | None:
    try:
        return PeerInfo(ID.from_base58(peer), [multiaddr.Multiaddr(a) for a in addrs])
    except ADDRESS_ERRORS:  # a stored address libp2p cannot parse: skip that peer
        return None


def _info_from_text(text: str) -> PeerInfo | None:
    from p2pool.p2p.host import AddressError as HostAddressError
    from p2pool.p2p.host import parse_peer

    try:
        return parse_peer(text)
    except HostAddressError:
        return None
