"""Who we are connected to: outbound dials toward a target, an inbound cap, scores, bans, peer
exchange, DNS seeds and reachability.

Every connection itself is tracked by :mod:`p2pool.p2p.connections` (from its first byte, within the
limits of :mod:`p2pool.p2p.limits`), which tells this manager when one becomes a counted peer's or
ends. Scores (:mod:`p2pool.p2p.scoring`), bans (:mod:`p2pool.p2p.banlist`, persisted) and the
address book (:mod:`p2pool.p2p.peerstore`) are pure or plain storage; this is the adapter that
applies their verdicts to the libp2p host.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import multiaddr
import trio
from libp2p.abc import IHost
from libp2p.exceptions import BaseLibp2pError
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import PeerStoreError

from p2pool.p2p import keepalive
from p2pool.p2p.ban_writer import write_behind
from p2pool.p2p.banlist import BanList
from p2pool.p2p.connections import ConnectionEvents, Connections
from p2pool.p2p.host import ADDRESS_ERRORS, disconnect_peer, observed_ips, peer_addr, speaks
from p2pool.p2p.keepalive import KeepaliveConfig, Liveness
from p2pool.p2p.limits import Connection, LimitConfig, Stage
from p2pool.p2p.peerstore import AddressBook, AddressError
from p2pool.p2p.reachability import Reachability, ReachabilityConfig, Status
from p2pool.p2p.scoring import Offense, PeerScores, ScoreConfig
from p2pool.p2p.seedlist import resolve, txt_lookup

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
    # Peer exchange (GetPeers): ask peers for addresses and learn what they answer.
    peer_exchange: bool = True
    # Peers that do not speak our network's protocol are not dialled (nor let in) again for this long.
    foreign_backoff: float = 3600.0
    # Outbound peers kept while nobody can dial us (see p2pool.p2p.reachability).
    outbound_when_unreachable: int = 12
    # A dial succeeds when the peer stays this long: one that hangs up sooner (over its inbound cap, say)
    # counts as a failed dial in the address book, which backs it off.
    min_session: float = 10.0
    # DNS seeds (/dnsaddr/NAME) are resolved at start, then this often while short of outbound peers;
    # through the system's resolver, or the DNS server at HOST:PORT.
    dns_interval: float = 600.0
    dns_nameserver: str | None = None
    limits: LimitConfig = field(default_factory=LimitConfig)
    reachability: ReachabilityConfig = field(default_factory=ReachabilityConfig)
    # Peers silent for a while are probed, and dropped when they do not answer (p2pool.p2p.keepalive).
    keepalive: KeepaliveConfig = field(default_factory=KeepaliveConfig)


@dataclass
class PeerEvents:
    """What the rest of the service wants to hear about peers."""

    joined: Callable[[str], None]  # a new peer: the service polls its tip and asks it for peers
    left: Callable[[str], None]
    ask_peers: Callable[[str], Any]  # async: ask a connected peer for the peers it knows (learn)
    banned: Callable[[str], None]
    # A connection's peer turned out not to speak our protocol: the service says why, then calls
    # :meth:`PeerManager.mark_foreign` (None: mark it at once).
    foreign: Callable[[str], None] | None = None


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
    # The protocol a peer must list in identify to count (our network's sync protocol); None: any.
    identify_protocol: str | None = None
    # Evidence whether peers can reach us (our own listen/announced IPs tell observed addresses apart).
    own_ips: frozenset[str] = frozenset()
    announced: bool = False
    inbound: set[str] = field(default_factory=set)
    outbound: set[str] = field(default_factory=set)
    foreign: dict[str, float] = field(default_factory=dict)
    # How each outbound peer was found ("bootstrap", "dns", "pex", "dht", ...), for the status and tests.
    found_by: dict[str, str] = field(default_factory=dict)
    # DNS seeds: names whose TXT records list peers (see bootstrap.seedlist).
    seed_dns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.me = str(self.host.get_id())
        self.connections = Connections(
            self.host, self.config.limits, self.config.max_inbound,
            ConnectionEvents(self._identified, self._found_foreign, self._gone, self.is_banned),
            identify_protocol=self.identify_protocol, disconnect_timeout=self.config.disconnect_timeout)
        self.table = self.connections.table
        self.reachability = Reachability(self.config.reachability, self.own_ips, self.announced)
        self.liveness = Liveness(self.config.keepalive)
        self._nursery: trio.Nursery | None = None
        self._dialing: set[str] = set()
        self._asked = 0
        self._next_exchange = 0.0
        self._joined_at: dict[str, float] = {}  # outbound peers not yet confirmed (min_session) -> when
        for info in self.bootstrap:  # so that their failures back them off too
            try:
                self.book.add(str(info.peer_id), [peer_addr(a, info.peer_id) for a in info.addrs], self.wall_clock(),
                              "bootstrap")
            except AddressError as exc:
                log.warning("bootstrap peer %s: %s", info.peer_id, exc)

    # --- queries --------------------------------------------------------------------------------------
    def connected(self) -> list[str]:
        return sorted(self.inbound | self.outbound)

    def target(self) -> int:
        """Outbound peers to keep: more while nobody can dial us (only our own dials bring peers)."""
        if not self.reachable():
            return max(self.config.target_outbound, self.config.outbound_when_unreachable)
        return self.config.target_outbound

    def reachable(self) -> bool:
        """False once it is clear that nobody can dial us (see :mod:`p2pool.p2p.reachability`)."""
        return self.reachability.decide(trio.current_time()).status is not Status.UNREACHABLE

    def endpoints(self) -> dict[tuple[str, int], Connection]:
        """Every connection the host holds, by the remote (IP, port) of its TCP connection."""
        return self.connections.endpoints()

    def peer_addrs(self, peer: str) -> list[str]:
        """Dialable addresses of a connected peer (its listen addresses, learned by identify)."""
        out = []
        try:
            addrs = self.host.get_peerstore().addrs(ID.from_base58(peer))
        except PeerStoreError:  # identify has not told us its addresses (yet)
            return []
        for addr in addrs:
            text = str(addr)
            if "/tcp/" in text and "/0.0.0.0/" not in text and "/ip6/::/" not in text and "/p2p-circuit" not in text:
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

    def status(self) -> dict[str, Any]:
        """The connection part of the P2P status: what the table holds and whether peers reach us."""
        now = trio.current_time()
        self._observe()
        return {"connections": self.table.status(now), "reachability": self.reachability.status(now),
                "target_outbound": self.target(), "unresponsive_dropped": self.liveness.dropped}

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
        """``peer`` answered us or asked something legitimate: it is alive and behaving."""
        now = trio.current_time()
        self.scores.good(peer, now)
        if peer in self.inbound or peer in self.outbound:  # (an answer after it left would stay in the table)
            self.liveness.heard(peer, now)

    def is_banned(self, peer: str) -> bool:
        return self.bans.is_banned(peer, self.wall_clock())

    def _found_foreign(self, peer: str) -> None:
        (self.events.foreign or self.mark_foreign)(peer)

    def mark_foreign(self, peer: str) -> None:
        """``peer`` speaks another network's protocol: drop it and neither dial nor let it in again soon."""
        if peer not in self.foreign:
            log.info("disconnecting peer %s: not on our network", peer)
        now = trio.current_time()
        self.foreign[peer] = now + self.config.foreign_backoff
        self.table.refuse_peer(peer, now, minimum=self.config.foreign_backoff)
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
        self.connections.reconcile(peer)

    # --- running -------------------------------------------------------------------------------------------
    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(write_behind, self.bans)  # a ban costs the event loop no write
            await nursery.start(self.connections.run)
            if self.config.keepalive.enabled and self.identify_protocol is not None:
                await nursery.start(keepalive.run, self.liveness, self.connected, self._answers, self.disconnect)
            if self.seed_dns:
                nursery.start_soon(self._resolve_dns_seeds)
            task_status.started()
            while True:
                await self._maintain(nursery)
                await trio.sleep(self.config.maintain_interval)

    async def _resolve_dns_seeds(self) -> None:
        """Resolve the DNS seeds into bootstrap peers: at start, then while short of outbound peers."""
        lookup = txt_lookup(self.config.dns_nameserver)
        while True:
            found = await resolve(self.seed_dns, lookup)
            known = {str(info.peer_id) for info in self.bootstrap}
            added = 0
            for text in found:
                info = _info_from_text(text)
                if info is None or str(info.peer_id) in known or str(info.peer_id) == self.me:
                    continue
                self.bootstrap.append(info)
                known.add(str(info.peer_id))
                added += 1
                try:
                    self.book.add(str(info.peer_id), [text], self.wall_clock(), "dns")
                except AddressError:
                    continue
            log.info("DNS seeds %s: %d peers (%d new)", ", ".join(self.seed_dns), len(found), added)
            # Asked again every interval, but only while the node lacks outbound peers.
            await trio.sleep(self.config.dns_interval)
            while len(self.outbound) >= self.target():  # noqa: ASYNC110  (a periodic look, not a wait for an event)
                await trio.sleep(self.config.dns_interval)

    async def connect(self, info: PeerInfo, source: str) -> bool:
        """Dial ``info``; True once connected and identified as one of ours. Bans, refusals and the
        address book are respected and updated: a connection that ends before it is identified (the
        peer hung up: over its inbound cap, or not one of ours) counts as a failed dial."""
        peer = str(info.peer_id)
        now = self.wall_clock()
        if peer == self.me or self.is_banned(peer) or peer in self._dialing or peer in self.connected():
            return peer in self.connected()
        self._dialing.add(peer)
        self.found_by[peer] = source
        try:
            with trio.move_on_after(self.config.dial_timeout + self.config.limits.identify_timeout):
                await self.host.connect(info)
                while peer not in self.connected():
                    if not self.host.get_network().get_connections(info.peer_id):
                        break  # it hung up before it was identified
                    await trio.sleep(0.02)
                else:
                    return True
            log.info("dial to %s (%s) gave no peer: the connection ended or timed out before it was identified",
                     peer, source)
        except (BaseLibp2pError, OSError, trio.BrokenResourceError, ValueError) as exc:
            log.info("cannot connect to %s (%s): %s", peer, source, exc)
        finally:
            self._dialing.discard(peer)
        if peer not in self.connected():
            self.found_by.pop(peer, None)
            self.book.mark_failed(peer, now)
            self.connections.close_unidentified(peer)
        return False

    async def _maintain(self, nursery: trio.Nursery) -> None:
        """Close what outstayed its deadline; dial toward the outbound target: bootstrap peers first, then
        the address book; when the book runs dry, ask one connected peer (in turn) for the peers it knows."""
        now = self.wall_clock()
        clock = trio.current_time()
        self.bans.prune(now)
        self.table.prune(clock)
        self.connections.sweep(clock)
        self.reachability.outbound_peers(len(self.outbound), clock)
        for peer, since in list(self._joined_at.items()):
            if clock - since >= self.config.min_session:
                self.book.mark_connected(peer, now)
                del self._joined_at[peer]
        missing = self.target() - len(self.outbound) - len(self._dialing)
        if missing <= 0:
            return
        exclude = self._not_to_dial()
        wanted: list[tuple[PeerInfo, str]] = [(info, self._seed_source(info)) for info in self.bootstrap
                                              if str(info.peer_id) not in exclude
                                              and (self.book.next_attempt(str(info.peer_id)) or 0.0) <= now]
        for peer, addrs in self.book.candidates(now, exclude=exclude, limit=missing * 2):
            info = _info(peer, addrs)
            record = self.book.info(peer)
            if info is not None and all(str(w.peer_id) != peer for w, _ in wanted):
                wanted.append((info, record.source if record else "book"))
        for info, source in wanted[:missing]:
            nursery.start_soon(self.connect, info, source)
        if (self.config.peer_exchange and len(wanted) < missing and self.connected()
                and clock >= self._next_exchange):
            self._next_exchange = clock + self.config.exchange_interval
            self._asked += 1
            nursery.start_soon(self.events.ask_peers, self.connected()[self._asked % len(self.connected())])

    def needs_addresses(self) -> bool:
        """Short of outbound peers with nobody left in the address book to dial (discovery: look harder)."""
        if self.target() - len(self.outbound) - len(self._dialing) <= 0:
            return False
        return not self.book.candidates(self.wall_clock(), exclude=self._not_to_dial(), limit=1)

    def _not_to_dial(self) -> set[str]:
        clock = trio.current_time()
        return {self.me, *self.connected(), *self._dialing, *(p for p, until in self.foreign.items() if until > clock)}

    def _seed_source(self, info: PeerInfo) -> str:
        record = self.book.info(str(info.peer_id))
        return "dns" if record is not None and record.source == "dns" else "bootstrap"

    def _identified(self, entry: Connection) -> None:
        """A connection became a counted peer's: a new peer joins (inbound, or outbound: our dial)."""
        peer = entry.peer
        assert peer is not None
        known = peer in self.inbound or peer in self.outbound
        if entry.inbound and peer not in self._dialing and not known:
            self.inbound.add(peer)
            self.reachability.inbound_peer(trio.current_time())
        elif not known:
            self.outbound.add(peer)
            self._joined_at[peer] = trio.current_time()
        if not known:
            self.liveness.heard(peer, trio.current_time())
            self.events.joined(peer)

    def _gone(self, entry: Connection) -> None:
        """A connection ended; its peer leaves when it was its last counted one."""
        peer = entry.peer
        if peer is None or any(c.peer == peer and c.stage is Stage.PEER for c in self.table.connections()):
            return  # not a peer yet, or another connection to the peer remains
        known = peer in self.inbound or peer in self.outbound
        self.inbound.discard(peer)
        self.outbound.discard(peer)
        if self._joined_at.pop(peer, None) is not None:
            log.info("peer %s hung up within %.0f s of our dial; backing off from it", peer, self.config.min_session)
            self.book.mark_failed(peer, self.wall_clock())
        self.liveness.forget(peer)  # (also a peer never counted: one served before it was refused)
        if known:
            self.found_by.pop(peer, None)
            self.events.left(peer)

    async def _answers(self, peer: str) -> bool:
        """The keepalive probe: whether ``peer`` negotiates a stream of our sync protocol (a round trip)."""
        assert self.identify_protocol is not None
        return await speaks(self.host, ID.from_base58(peer), self.identify_protocol) is True

    def _observe(self) -> None:
        for ip in observed_ips(self.host):
            self.reachability.observed_addr(ip, trio.current_time())

    # --- learning addresses -------------------------------------------------------------------------------
    def learn(self, source: str, addrs: list[str]) -> int:
        """Addresses a peer told us about (peer exchange) go into the address book; returns how many
        peers were usable. Nothing is learned with peer exchange turned off."""
        if not self.config.peer_exchange:
            return 0
        return self._learn(addrs, "pex", exclude=source)

    def learn_found(self, addrs: list[str], source: str) -> int:
        """Addresses found by other means (``source``: "dht") go into the address book."""
        return self._learn(addrs, source, exclude="")

    def _learn(self, addrs: list[str], source: str, exclude: str) -> int:
        entries: list[tuple[str, str]] = []
        for text in addrs:
            info = _info_from_text(text)
            if info is None or str(info.peer_id) in (self.me, exclude) or text in self.book.get(str(info.peer_id)):
                continue
            entries.append((str(info.peer_id), text))
        return self.book.add_many(entries, self.wall_clock(), source) if entries else 0


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
