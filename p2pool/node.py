"""The composition root: builds every part of a node, wires their events, and runs them in one nursery.

Parts: the share store and sharechain, the share intake (the one way a share joins), the P2P service
(gossip, sync and peers over libp2p), the chain backend (bitcoind over JSON-RPC, or the embedded dev
chain served on 127.0.0.1 and reached the same way), the template monitor, the work provider and block
submitter, the Stratum server, metrics, the HTTP API and, unless disabled, the built-in miner connected
to our own Stratum port. A seed node (``otedama bootstrap``) runs only the store, the sharechain, the
intake, the P2P service and the API. ``docs/architecture.md`` draws the picture.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import trio

from p2pool import memory
from p2pool.api import AdminActions, ApiSources, LiveFeed, api_config, serve_api
from p2pool.api.announcer import LiveAnnouncer
from p2pool.backup.snapshot import Snapshots, SnapshotSources
from p2pool.chain.block_states import BlockStates
from p2pool.chain.events import ChainHealthChanged, RpcCalled, TemplateChanged
from p2pool.chain.monitor import TemplateMonitor
from p2pool.chain.rpc import BitcoindClient
from p2pool.config import ConfigError, NodeConfig, prepare_datadir
from p2pool.config.render import render_values
from p2pool.event_bus import EventBus
from p2pool.events import (
    BlockFound,
    MinerBanned,
    MinerRefused,
    NewWork,
    PeerBanned,
    PeerConnected,
    PeerDisconnected,
    PeerPenalized,
    ShareRefused,
    SharesAccepted,
    SharesSettled,
    StoreWritable,
    SubmitsAnswered,
    SyncRequestDone,
    SyncStateChanged,
    TipChanged,
    WorkerConnected,
    WorkerDisconnected,
    WorkSent,
)
from p2pool.intake import ShareIntake
from p2pool.logs import NODE_NAME, set_level
from p2pool.metrics import NodeMetrics, StoreHealth
from p2pool.miner_control import MinerControl
from p2pool.notify import Channels, HealthWatch, Notifier, WorkerWatch, block_found
from p2pool.p2p.ban_writer import write_behind
from p2pool.p2p.banlist import BanList, BanListError
from p2pool.payout_address import resolve_payout_address
from p2pool.share_fates import ShareFates
from p2pool.stats.listener import StatsListener
from p2pool.stats.store import STATS_FILE, StatsStore
from p2pool.status import StatusSources
from p2pool.storage.compaction import compact_when_due
from p2pool.storage.loader import load_chain, open_store, reindex
from p2pool.storage.lock import DatadirInUse, DatadirLock
from p2pool.storage.recovery import recover_when_writable
from p2pool.storage.share_store import ShareStore
from p2pool.stratum.bans import BAN_FILE, StratumBans
from p2pool.stratum.limits import StratumLimits, parse_networks
from p2pool.stratum.server import StratumConfig, StratumServer
from p2pool.stratum.service import StratumService
from p2pool.tls import TlsFiles
from p2pool.version import otedama_version
from p2pool.views.chain_view import ChainView
from p2pool.views.node_views import NodeViews
from p2pool.work.found_blocks import FoundBlocks
from p2pool.work.provider import WorkProvider
from p2pool.work.submitter import BlockSubmitter
from sharechain.chain import ShareChain
from sharechain.params import NetworkParams, network

if TYPE_CHECKING:
    from p2pool.p2p.service import P2PService

log = logging.getLogger("otedama.node")
# Options a running node applies on SIGHUP (:meth:`Node.reload`); the others are read once, at start.
RELOADABLE = ("log_level", "notify_webhook", "notify_command")
_WATCH_INTERVAL = 15.0  # how often workers and health are looked at for notifications
_UNHEALTHY_GRACE = 60.0  # seconds unhealthy before it is worth a notification


@dataclass(frozen=True)
class NodeEndpoints:
    """Where a started node listens (ports actually bound, useful when 0 was asked for)."""

    stratum_port: int
    api_port: int
    bitcoind_url: str
    peer_id: str | None = None
    p2p_addrs: tuple[str, ...] = ()
    stratum_tls_port: int | None = None


class Node:
    """One node. After ``started`` its parts are readable (tests and benchmarks look at them)."""

    def __init__(self, config: NodeConfig, *, clock: Callable[[], float] = time.time,
                 p2p_tuning: Mapping[str, Any] | None = None, params: NetworkParams | None = None,
                 name: str | None = None) -> None:
        self.config = config
        # Where one process runs several nodes (devnet), every log line of this one says ``name``.
        self.name = name
        # ``params`` other than the named network's: tests of nodes whose consensus rules differ.
        self.params = params or network(config.network)
        self.clock = clock
        self.p2p_tuning = dict(p2p_tuning or {})
        self.events = EventBus()
        self.metrics = NodeMetrics(network=self.params.name, version=otedama_version())
        self.metrics.use_clock(clock)
        self.notifier = Notifier(Channels(config.notify_webhook, config.notify_command), node=name or "otedama",
                                 network=self.params.name, count=self.metrics.on_notification)
        self.datadir = config.datadir
        self.store: ShareStore | None = None
        self.chain: ShareChain | None = None
        self.intake: ShareIntake | None = None
        self.found: FoundBlocks | None = None
        self.fates: ShareFates | None = None
        self.work: WorkProvider | None = None
        self.monitor: TemplateMonitor | None = None
        self.stratum: StratumService | None = None
        self._stratum_ban_list: BanList | None = None
        self.p2p: P2PService | None = None
        self.sources: StatusSources | None = None
        self.endpoints: NodeEndpoints | None = None
        self.live = LiveFeed()  # the API's push channel: parts' events are published here
        self.stats: StatsListener | None = None
        self.views: NodeViews | None = None
        self.miner: MinerControl | None = None
        self.block_states: BlockStates | None = None
        self.payout_address = ""
        self._announcer: LiveAnnouncer | None = None

    def status(self) -> dict[str, Any]:
        assert self.sources is not None, "the node has not started"
        return self.sources.status()

    def problems(self) -> list[str]:
        return self.sources.problems() if self.sources is not None else []

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        if self.name:
            NODE_NAME.set(self.name)
        prepare_datadir(self.datadir)
        try:
            lock = DatadirLock(self.datadir)
        except DatadirInUse as exc:
            raise ConfigError(f"{exc}; choose another with --datadir") from None
        stopped_cleanly = False
        try:
            await self._run(task_status)
        except BaseException as exc:
            stopped_cleanly = _cancelled_only(exc)
            raise
        finally:
            lock.release()
            if stopped_cleanly:
                tip = self.chain.tip if self.chain is not None else None
                log.info("node stopped cleanly: sharechain closed at height %s with %d shares",
                         tip.height if tip else "-", len(self.chain) if self.chain is not None else 0)

    async def _run(self, task_status: Any) -> None:
        config = self.config
        payout_address = "" if config.seed else resolve_payout_address(config, self.params, self.datadir)
        self.payout_address = payout_address
        store = open_store(self.datadir / "sharechain", self.params, reindex_requested=config.reindex)
        stats_store: StatsStore | None = None
        try:
            self.store, self.chain = store, self._load(store)
            self.intake = ShareIntake(self.chain, store, self.events.publish, self.clock)
            self.found = FoundBlocks(store)
            self.fates = ShareFates(self.chain, self.events.publish)
            self.sources = StatusSources(self.params, self.chain, found=self.found, fates=self.fates,
                                         store_unwritable=lambda: store.write_error)
            self.metrics.observe_store(lambda: StoreHealth(store.write_error is not None, store.write_errors))
            self.events.subscribe(StoreWritable, self.found.on_store_writable)
            stats_store = StatsStore(self.datadir / STATS_FILE)
            self.stats = StatsListener(self.params, stats_store, self.clock)
            self.stats.seed(self.chain.records())
            self.views = NodeViews(self.params, ChainView(self.chain), self.stats, store, payout_address,
                                   found=self.found, clock=self.clock)
            self._wire_metrics()
            self._wire_notifications()
            self._wire_stats_and_feed(self.stats, self.views)
            tls = self._stratum_tls_context()
            async with trio.open_nursery() as outer:
                outer.start_soon(self.notifier.run)
                outer.start_soon(self._watch)
                outer.start_soon(compact_when_due, store)
                outer.start_soon(recover_when_writable, lambda: store.write_error, self.intake.recover)
                if config.seed:
                    outer.start_soon(self.stats.run)
                    await self._run_seed(outer, task_status)
                rpc_url = config.bitcoind or await self._start_devchain(outer)
                async with BitcoindClient(rpc_url, cookie_file=config.bitcoind_cookie,
                                          publish=self.events.publish) as backend, trio.open_nursery() as nursery:
                    # The client outlives every task that uses it (this inner nursery), so a start that
                    # fails (a port in use) stops them before it closes, not the other way round.
                    submitter = BlockSubmitter(backend, self.found, self.params.address_format, self.events.publish,
                                               self.clock)
                    self.work = WorkProvider(self.params, self.chain, self.intake, submitter, self.events.publish,
                                             self.clock, wait_while_syncing=config.sync_wait)
                    self.monitor = TemplateMonitor(backend, publish=self.events.publish)
                    self.stratum = self._stratum(self.work)
                    if self._stratum_ban_list is not None:  # a ban costs the event loop no write
                        await nursery.start(write_behind, self._stratum_ban_list)
                    self._wire_mining(self.work, self.monitor, self.stratum)
                    stratum = self.stratum
                    self.metrics.observe(hashrate=stratum.hashrate, miners=lambda: stratum.connection_count,
                                         connections=lambda: stratum.connection_count,
                                         workers=lambda: len(stratum.worker_names()))
                    self.metrics.observe_stratum(stratum.counts)
                    self.sources = replace(self.sources, work=self.work, stratum=self.stratum.stats)
                    found = self.found
                    self.block_states = BlockStates(backend.getblockheader, lambda: [b.hash for b in found.all()],
                                                    self.clock)
                    states = self.block_states
                    self.events.subscribe(BlockFound, lambda event: states.refresh())
                    addrs = await self._start_p2p(nursery)
                    nursery.start_soon(submitter.run)
                    nursery.start_soon(self.monitor.run)
                    nursery.start_soon(self.block_states.run)
                    nursery.start_soon(self.stats.run, lambda: stratum.counts().rejected)
                    host, port = config.stratum
                    stratum_port = await nursery.start(self.stratum.serve, host, port)
                    tls_port = None
                    if tls is not None and config.stratum_tls is not None:
                        tls_port = await nursery.start(self.stratum.serve_tls, config.stratum_tls.host,
                                                       config.stratum_tls.port, tls)
                    self.miner = MinerControl(self._miner_config(stratum_port), config.miner_threads)
                    await nursery.start(self.miner.run)
                    self.views = replace(self.views, work=self.work, stratum=self.stratum,
                                         stratum_url=f"stratum+tcp://{_shown_host(host)}:{stratum_port}",
                                         block_states=self.block_states, miner=self.miner)
                    api_host, api_port = await self._start_api(nursery)
                    self.endpoints = NodeEndpoints(stratum_port, api_port, _redact(rpc_url),
                                                   self.p2p.peer_id if self.p2p else None, addrs, tls_port)
                    log.info("otedama %s node: stratum on %s:%d, API on %s:%d, chain %s, datadir %s",
                             self.params.name, host, stratum_port, api_host, api_port, _redact(rpc_url), self.datadir)
                    if config.miner:
                        ok, message = await self.miner.start(None)
                        if not ok:
                            raise ConfigError(message)
                    task_status.started(self.endpoints)
                    await trio.sleep_forever()
        finally:
            if stats_store is not None:
                stats_store.close()
            store.close()

    async def _run_seed(self, nursery: trio.Nursery, task_status: Any) -> None:
        addrs = await self._start_p2p(nursery)
        api_host, api_port = await self._start_api(nursery)
        self.endpoints = NodeEndpoints(0, api_port, "", self.p2p.peer_id if self.p2p else None, addrs)
        log.info("otedama %s seed node: API on %s:%d, datadir %s (no chain backend, no miners)",
                 self.params.name, api_host, api_port, self.datadir)
        task_status.started(self.endpoints)
        await trio.sleep_forever()

    def reload(self, config: NodeConfig) -> list[str]:
        """Apply what can change while the node runs (SIGHUP): the log level, the notification channels, the ban
        list (read again from its file). Returns what changed; the other options wait for a restart (logged)."""
        old, changes = self.config, []
        if config.log_level != old.log_level:
            set_level(config.log_level)
            changes.append(f"log_level {old.log_level} -> {config.log_level}")
        channels = Channels(config.notify_webhook, config.notify_command)
        if channels != self.notifier.channels:
            self.notifier.configure(channels)
            changes.append("notifications: webhook " + ("set" if channels.webhook else "off") + ", command "
                           + ("set" if channels.command else "off"))
        if self.p2p is not None:
            try:
                changes.append(f"ban list reloaded: {self.p2p.reload_bans()} bans in force")
            except BanListError as exc:
                log.error("ban list not reloaded: %s", exc)
        if self.stratum is not None:
            try:
                changes.append(f"Stratum ban list reloaded: {self.stratum.reload_bans()} bans listed")
            except BanListError as exc:
                log.error("Stratum ban list not reloaded: %s", exc)
        later = [name for name in NodeConfig.__dataclass_fields__
                 if name not in RELOADABLE and getattr(config, name) != getattr(old, name)]
        if later:
            log.warning("changed, but only read at start (restart the node to apply): %s", ", ".join(later))
        self.config = replace(old, **{name: getattr(config, name) for name in RELOADABLE})
        log.info("configuration reloaded: %s", "; ".join(changes) or "nothing to change")
        return changes

    # --- wiring ------------------------------------------------------------------------------------
    def _wire_metrics(self) -> None:
        bus, metrics = self.events, self.metrics
        bus.subscribe(SharesAccepted, metrics.on_shares_accepted)
        bus.subscribe(ShareRefused, metrics.on_share_refused)
        bus.subscribe(TipChanged, metrics.on_tip_changed)
        bus.subscribe(BlockFound, metrics.on_block_found)
        bus.subscribe(ChainHealthChanged, metrics.on_chain_health)
        bus.subscribe(TemplateChanged, metrics.on_template)
        bus.subscribe(RpcCalled, metrics.on_rpc)
        bus.subscribe(PeerPenalized, metrics.on_peer_penalized)
        bus.subscribe(SharesSettled, metrics.on_shares_settled)
        assert self.fates is not None
        bus.subscribe(SharesAccepted, self.fates.on_shares_accepted)
        bus.subscribe(TipChanged, self.fates.on_tip_changed)
        bus.subscribe(PeerBanned, metrics.on_peer_banned)
        bus.subscribe(MinerRefused, metrics.on_miner_refused)
        bus.subscribe(MinerBanned, metrics.on_miner_banned)
        bus.subscribe(SyncStateChanged, metrics.on_sync_state)
        bus.subscribe(SyncRequestDone, metrics.on_sync_request)
        bus.subscribe(SubmitsAnswered, metrics.on_submits)
        chain, clock = self.chain, self.clock
        assert chain is not None
        self.metrics.observe(shares=lambda: len(chain), orphans=lambda: len(chain.orphans),
                             tip_age=lambda: max(0.0, clock() - chain.tip.timestamp) if chain.tip else 0.0)

    def _wire_notifications(self) -> None:
        notifier, clock = self.notifier, self.clock
        self.events.subscribe(BlockFound, lambda event: notifier.send(block_found(event.block, clock())))

    async def _watch(self) -> None:
        """Look at the workers and the node's health now and then; what deserves it is notified."""
        health = HealthWatch(_UNHEALTHY_GRACE)
        workers = WorkerWatch(self.config.notify_worker_offline * 60.0)
        while True:
            await trio.sleep(_WATCH_INTERVAL)
            now = self.clock()
            found = health.observe(self.problems(), now)
            if self.stratum is not None and self.config.notify_worker_offline:
                found += workers.observe(self.stratum.worker_names(), now)
            for notification in found:
                self.notifier.send(notification)

    def _wire_stats_and_feed(self, stats: StatsListener, views: NodeViews) -> None:
        bus = self.events
        bus.subscribe(SharesAccepted, stats.on_shares_accepted)
        bus.subscribe(ShareRefused, stats.on_share_refused)
        bus.subscribe(BlockFound, stats.on_block_found)
        bus.subscribe(SharesSettled, stats.on_shares_settled)
        bus.subscribe(WorkerConnected, stats.on_worker_connected)
        bus.subscribe(WorkerDisconnected, stats.on_worker_disconnected)
        announcer = LiveAnnouncer(self.live, self.params.address_format, views.chain.arrival_status)
        bus.subscribe(SharesAccepted, announcer.on_shares_accepted)
        bus.subscribe(BlockFound, announcer.on_block_found)
        bus.subscribe(PeerConnected, announcer.on_peer_connected)
        bus.subscribe(PeerDisconnected, announcer.on_peer_disconnected)
        bus.subscribe(WorkerConnected, announcer.on_worker_connected)
        bus.subscribe(WorkerDisconnected, announcer.on_worker_disconnected)
        self._announcer = announcer

    def _wire_mining(self, work: WorkProvider, monitor: TemplateMonitor, stratum: StratumService) -> None:
        bus = self.events
        bus.subscribe(TemplateChanged, work.on_template)
        bus.subscribe(ChainHealthChanged, work.on_chain_health)
        bus.subscribe(TipChanged, work.on_tip_changed)
        bus.subscribe(SyncStateChanged, work.on_sync_state)
        bus.subscribe(StoreWritable, work.on_store_writable)
        bus.subscribe(NewWork, lambda event: stratum.new_work(event.clean))
        # What a fan-out made and freed (ten thousand jobs and notify lines) goes back to the system.
        bus.subscribe(WorkSent, memory.on_work_sent)
        bus.subscribe(BlockFound, lambda event: monitor.refresh())

    async def _start_p2p(self, nursery: trio.Nursery) -> tuple[str, ...]:
        """Start the P2P service before miners connect, so that a node behind its peers holds them back."""
        config = self.config
        if not config.p2p_listen:
            return ()
        # Imported here: libp2p and what it loads take about 70 MB, which a node without P2P does not carry.
        from p2pool.p2p.discovery import DiscoveryConfig
        from p2pool.p2p.host import AddressError as HostAddressError
        from p2pool.p2p.limits import LimitConfig
        from p2pool.p2p.peers import PeerConfig
        from p2pool.p2p.peerstore import AddressError, PeerStoreError
        from p2pool.p2p.service import P2PConfig, P2PService

        assert self.chain is not None and self.store is not None and self.intake is not None
        limits = LimitConfig(max_per_ip=config.max_per_ip, max_per_subnet=config.max_per_subnet)
        peers = PeerConfig(target_outbound=config.max_outbound, max_inbound=config.max_inbound, limits=limits)
        p2p_config = P2PConfig(listen=config.p2p_listen, bootstrap=config.peers_to_dial(), peers=peers,
                               announce=config.announce, discovery=DiscoveryConfig(enabled=not config.no_dht))
        # Tuning for tests and benchmarks (timers, limits): P2PConfig fields to override.
        p2p_config = replace(p2p_config, **self.p2p_tuning)
        try:
            self.p2p = P2PService(self.params, self.chain, self.store, self.intake, self.datadir, p2p_config,
                                  self.events.publish, clock=self.clock)
        except (AddressError, HostAddressError, PeerStoreError, BanListError) as exc:
            raise ConfigError(str(exc)) from None
        self.events.subscribe(SharesAccepted, self.p2p.on_shares_accepted)
        manager, p2p = self.p2p.peers, self.p2p
        self.metrics.observe(peers=lambda: len(manager.connected()), bans=lambda: len(manager.bans.active(time.time())),
                             sync_progress=lambda: p2p.progress().fraction,
                             clock_skew=lambda: p2p.clocks.skew() or 0.0)
        self.metrics.observe_peers(lambda: {"inbound": len(manager.inbound), "outbound": len(manager.outbound)})
        assert self.sources is not None
        self.sources = replace(self.sources, p2p=self.p2p.status)
        assert self.views is not None
        self.views = replace(self.views, p2p=self.p2p)
        addrs = await nursery.start(self.p2p.run)
        return tuple(addrs)

    async def _start_api(self, nursery: trio.Nursery) -> tuple[str, int]:
        """Serve the API; returns where it listens as ("http://HOST" or "https://HOST", port)."""
        api = api_config(self.config, self.datadir)
        admin = AdminActions.from_peer_control(self.p2p.control if self.p2p else None)
        if self.p2p is not None:
            admin = replace(admin, ban=self.p2p.ban, unban=self.p2p.unban)
        if self.miner is not None:
            admin = replace(admin, mining_start=self.miner.start, mining_stop=self.miner.stop)
        views = self.views
        assert views is not None
        sources = ApiSources(status=self.status, problems=self.problems, metrics=self.metrics.render,
                             admin=admin, feed=self.live, views=views, backup=self._snapshots())
        assert self._announcer is not None
        nursery.start_soon(self._announcer.run_stats, views.statistics)
        return f"{api.scheme}://{api.host}", await nursery.start(serve_api, sources, api)

    def _snapshots(self) -> Snapshots:
        assert self.store is not None and self.chain is not None
        found, config = self.found, self.config
        heading = (f"otedama {otedama_version()}: the configuration of the {self.params.name} node in the backup "
                   "(datadir is where it was restored)")
        return Snapshots(SnapshotSources(
            params=self.params, datadir=self.datadir, store=self.store, chain=self.chain,
            blocks_found=lambda: len(found.all()) if found is not None else 0,
            peer_id=self.p2p.peer_id if self.p2p else None,
            config=lambda: render_values(config, heading=heading, skip=("datadir",)), version=otedama_version()))

    def _stratum_tls_context(self) -> ssl.SSLContext | None:
        """The TLS settings of ``--stratum-tls``, loaded before anything starts (None: no TLS port)."""
        config = self.config
        if config.stratum_tls is None or config.seed:
            return None
        assert config.stratum_tls_cert is not None and config.stratum_tls_key is not None
        try:
            return TlsFiles(config.stratum_tls_cert, config.stratum_tls_key).context()
        except ValueError as exc:
            raise ConfigError(f"--stratum-tls-cert/--stratum-tls-key: {exc}") from None

    # --- starting parts ------------------------------------------------------------------------------
    def _load(self, store: ShareStore) -> ShareChain:
        if self.config.reindex:
            chain, report = reindex(store, self.params)
            log.info("reindex: kept %d shares, dropped %d, pruned %d the keep rule no longer needs", report.kept,
                     len(report.dropped), report.pruned)
            for share_hash, reason in report.dropped:
                log.warning("reindex dropped share %s: %s", share_hash, reason)
            return chain
        started = time.perf_counter()
        chain = load_chain(store, self.params)
        tip = chain.tip
        if tip is not None:
            self.metrics.sharechain_height.set(tip.height)
        log.info("sharechain loaded: %d shares from height %d, tip %s at height %s (%.2f s)", len(chain),
                 chain.horizon.lowest, tip.hash[::-1].hex() if tip else "none", tip.height if tip else "-",
                 time.perf_counter() - started)
        return chain

    async def _start_devchain(self, nursery: trio.Nursery) -> str:
        from p2pool.devchain.server import serve_devchain
        from p2pool.devchain.service import DevchainConfig

        devchain_config = DevchainConfig(datadir=self.datadir / "devchain", host="127.0.0.1", port=0,
                                         bits=self.config.devchain_bits)
        port = await nursery.start(serve_devchain, devchain_config)
        return f"http://127.0.0.1:{port}"

    def _miner_config(self, stratum_port: int) -> Callable[[int | None], Any]:
        """The built-in miner's configuration for ``threads`` (None: as configured), or why it cannot mine."""
        from miner.miner import MinerConfig

        def config_for(threads: int | None) -> MinerConfig | str:
            if not self.payout_address:
                return f"the built-in miner needs a payout address on {self.params.name}: restart with --payout-address"
            return MinerConfig(url=f"stratum+tcp://127.0.0.1:{stratum_port}", user=self.payout_address,
                               threads=threads or self.config.miner_threads,
                               kernel="opencl" if self.config.miner_opencl else "auto")

        return config_for

    def _stratum(self, work: WorkProvider) -> StratumService:
        """The Stratum server, or with --stratum-processes above 1 its worker processes."""
        config, bans = self._stratum_config(), self._stratum_bans()
        self._stratum_ban_list = bans.ban_list
        if self.config.stratum_processes > 1:
            from p2pool.stratum_processes.pool import StratumPool
            return StratumPool(self.params, work, self.config.stratum_processes, config, publish=self.events.publish,
                               bans=bans, clock=self.clock)
        return StratumServer(work, config, publish=self.events.publish, bans=bans, clock=self.clock)

    def _stratum_config(self) -> StratumConfig:
        host, port = self.config.stratum
        return StratumConfig(host=host, port=port, initial_difficulty=self.config.stratum_difficulty,
                             target_submit_interval=self.config.stratum_submit_interval, limits=self._stratum_limits())

    def _stratum_limits(self) -> StratumLimits:
        c = self.config
        return StratumLimits(max_workers=c.stratum_max_workers, max_per_ip=c.stratum_max_per_ip,
                             allow=parse_networks(c.stratum_allow), auth_timeout=c.stratum_auth_timeout,
                             idle_timeout=c.stratum_idle_timeout, submit_rate=c.stratum_submit_rate,
                             submit_burst=c.stratum_submit_burst, ban_strikes=c.stratum_ban_strikes,
                             ban_seconds=c.stratum_ban_seconds)

    def _stratum_bans(self) -> StratumBans:
        """The Stratum IP bans in the datadir; a damaged file stops the start with its path (like the P2P one)."""
        try:
            return StratumBans(self.datadir / BAN_FILE, self.config.stratum_ban_strikes, self.config.stratum_ban_seconds)
        except BanListError as exc:
            raise ConfigError(str(exc)) from None


def _cancelled_only(exc: BaseException) -> bool:
    """Whether ``exc`` is a cancellation (maybe grouped by nurseries) and nothing else: a clean stop."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return isinstance(exc, trio.Cancelled)


def _shown_host(host: str) -> str:
    """The host miners are told to use: the listen address, or this machine's name for a wildcard."""
    if host in ("0.0.0.0", "::", ""):
        import socket

        return socket.gethostname()
    return host


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


__all__ = ["ConfigError", "Node", "NodeEndpoints"]
