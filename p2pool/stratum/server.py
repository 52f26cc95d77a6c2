"""The Stratum TCP server: a thin trio loop around :class:`~p2pool.stratum.session.Session`.

Plain TCP connections are all read by one task (:class:`~p2pool.stratum.hub.ReadHub`, an epoll set
waited on through trio), TLS ones by a task each; what a connection is sent (answers, and the jobs the fan-out task
behind :meth:`StratumServer.new_work` makes) goes into its :class:`~p2pool.stratum.outbox.Outbox` and is
written at once, without a task switch, while the socket takes it; only a connection whose socket is full
(or a TLS one) gets a second task that waits to write. A miner that stops reading is dropped. Miners
connect over plain TCP (:meth:`StratumServer.serve`) and, on a port of its own, over TLS
(:meth:`StratumServer.serve_tls`, ``stratum+ssl://``); both kinds share the sessions, work and counts.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import trio

from p2pool.events import SubmitsAnswered, WorkerConnected, WorkerDisconnected, WorkSent
from p2pool.listen import listening, open_listeners
from p2pool.stratum.accept import Gate, Tally, accept_forever, turn_away
from p2pool.stratum.bans import StratumBans
from p2pool.stratum.hub import ReadHub
from p2pool.stratum.limits import Refusal, StratumLimits, WorkerRefs
from p2pool.stratum.notify import in_batches
from p2pool.stratum.outbox import Outbox
from p2pool.stratum.provider import WorkSource
from p2pool.stratum.session import Session, SessionConfig
from p2pool.stratum.stats import ShareCounter, StratumStats, SubmitCounts
from p2pool.stratum.sweeper import sweep_forever
from p2pool.stratum.vardiff import VardiffConfig
from sharechain.bitcoin.stratum.difficulty import from_wire

log = logging.getLogger(__name__)

_READ_SIZE = 16384
_CLOSE_FLUSH_SECONDS = 5.0
# Refused connections told why at once, at most; past it (a flood from a banned address) they are just closed.
_MAX_FAREWELLS = 256


@dataclass(frozen=True)
class StratumConfig:
    """Server settings; difficulties are plain numbers as a user writes them (0.001 is fine)."""

    host: str = "0.0.0.0"
    port: int = 3333
    initial_difficulty: float = 1.0
    min_difficulty: float = 0.001
    max_difficulty: float = 1e12
    target_submit_interval: float = 10.0
    vardiff: bool = True
    max_line_size: int = 16 * 1024
    max_protocol_errors: int = 50
    hashrate_window: float = 300.0
    # How often quiet connections are checked for an easier difficulty.
    tick_interval: float = 2.0
    # First extranonce1 handed out (then counting up by the stride); random when None. Stratum worker
    # processes of one node count from the same start in strides of their number, each from its own offset.
    extranonce1_start: int | None = None
    extranonce1_stride: int = 1
    # A TLS client must finish its handshake within this many seconds.
    tls_handshake_timeout: float = 10.0
    # Workers per connection, connections per IP, deadlines, the submit rate, bans (p2pool.stratum.limits).
    limits: StratumLimits = field(default_factory=StratumLimits)

    def session_config(self) -> SessionConfig:
        """The per-connection policy; an initial difficulty below the minimum lowers the minimum."""
        initial = from_wire(self.initial_difficulty)
        vardiff = VardiffConfig(
            min_difficulty=min(initial, from_wire(self.min_difficulty)),
            max_difficulty=from_wire(self.max_difficulty),
            target_interval=self.target_submit_interval,
        )
        return SessionConfig(
            initial_difficulty=initial,
            vardiff=vardiff,
            vardiff_enabled=self.vardiff,
            max_line=self.max_line_size,
            max_protocol_errors=self.max_protocol_errors,
            limits=self.limits,
        )


class _Connection:
    """One miner's connection: its session, the bytes waiting for it and how to write them.

    ``fd`` is the plain TCP socket's descriptor, written without blocking; -1 for TLS (every write goes
    through the waiting task) and once the connection is closing. ``drop`` ends it (the server's way for its
    kind); ``closed_for`` is why the limits closed it (the sweeper), if they did."""

    __slots__ = ("cancel_scope", "closed_for", "closing", "drain_scope", "drop", "epoch", "fd", "hub", "ip", "nursery",
                 "outbox", "peer", "session", "stream")

    def __init__(self, session: Session, peer: str, ip: str, stream: trio.abc.Stream,
                 drop: Callable[[_Connection], None]) -> None:
        self.session = session
        self.outbox = Outbox()
        self.peer = peer
        self.ip = ip
        self.drop = drop
        self.closed_for: Refusal | None = None
        # What ends a connection served by a task of its own (TLS); a hub connection has none.
        self.cancel_scope: trio.CancelScope | None = None
        self.stream = stream
        self.fd = stream.socket.fileno() if isinstance(stream, trio.SocketStream) else -1
        self.nursery: trio.Nursery | None = None  # where its writer task runs (the server's for hub connections)
        self.closing = False
        self.hub = False  # read by the server's hub (no task of its own)
        self.drain_scope: trio.CancelScope | None = None
        # The server's new-work count when this connection last fetched a job: a fan-out of that
        # piece of work (or an older one) has nothing new for it.
        self.epoch = -1

    # What the sweeper reads, and how it closes the connection.
    @property
    def opened(self) -> float:
        return self.session.opened

    @property
    def last_active(self) -> float:
        return self.session.last_active

    @property
    def authorized(self) -> bool:
        return self.session.mining

    @property
    def waiting(self) -> bool:
        return self.session.no_work

    def close(self, reason: Refusal) -> None:
        self.closed_for = reason
        self.drop(self)


class StratumServer:
    """Serves miners work from a :class:`WorkSource`; its sessions hand it their solutions."""

    def __init__(self, provider: WorkSource, config: StratumConfig | None = None,
                 publish: Callable[[object], None] | None = None, bans: StratumBans | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.provider = provider
        # Workers coming and going are announced (WorkerConnected, WorkerDisconnected), how long
        # submits took to answer (SubmitsAnswered), and each fan-out of new work once done (WorkSent).
        self._publish = publish or (lambda event: None)
        self.config = config or StratumConfig()
        self._session_config = self.config.session_config()
        self._counter = ShareCounter(_now_or_zero(), self.config.hashrate_window)
        # In the order they came (a dict's keys): a fan-out walks them as their sessions lie in memory, which
        # is faster than the scattered order of a set (about a tenth, for 10,000 sessions in-process).
        self._connections: dict[_Connection, None] = {}
        # Admission, strikes and bans (``bans`` None: invalid work is refused but bans no one); worker names held.
        self.gate = Gate(self.config.limits, bans, self._publish, clock)
        self._workers = WorkerRefs()  # connections authorized as each worker name
        start = self.config.extranonce1_start
        self._next_extranonce1 = secrets.randbits(32) if start is None else start & 0xFFFFFFFF
        self._extranonces_in_use: set[bytes] = set()
        self._work_ready = trio.Event()
        self._pending_clean: bool | None = None
        self._epoch = 0  # pieces of new work announced
        self._hub: ReadHub[_Connection] = ReadHub(_READ_SIZE)  # its epoll set opens when serving starts, closes when it ends
        self._nursery: trio.Nursery | None = None
        self._farewells = 0  # refused connections being told why (each for at most a second)

    # -- public API ----------------------------------------------------------------------------

    async def serve(
        self, host: str | None = None, port: int | None = None, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen and serve until cancelled; ``task_status.started`` gets the bound port."""
        host = self.config.host if host is None else host
        port = self.config.port if port is None else port
        if not self._connections and self._counter.accepted == 0:
            self._counter = ShareCounter(trio.current_time(), self.config.hashrate_window)
        async with listening(host, port, "Stratum (--stratum)") as (listeners, bound):
            log.info("stratum: listening on %s:%d", host, bound)
            async with trio.open_nursery() as nursery:
                await nursery.start(self.serve_adopted)
                for listener in listeners:
                    nursery.start_soon(accept_forever, listener, self._take)
                task_status.started(bound)

    async def serve_adopted(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the connections handed to :meth:`adopt` (and those :meth:`serve` accepts) until cancelled:
        a Stratum worker process runs this, its connections accepted by the node."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._ticker)
                nursery.start_soon(self._fan_out)
                nursery.start_soon(self._hub.run, self._hub_received)
                nursery.start_soon(sweep_forever, lambda: self._connections, self.config.limits,
                                   lambda ip: self.gate.banned(ip) is not None)
                task_status.started()
        finally:
            self._nursery = None
            for conn in [c for c in self._connections if c.hub]:
                self._close(conn)

    def adopt(self, stream: trio.SocketStream) -> None:
        """Serve a plain TCP connection accepted elsewhere (admitted by this server's gate first)."""
        self._open(stream)

    async def serve_tls(self, host: str, port: int, context: ssl.SSLContext, *,
                        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Also listen for miners over TLS (run beside :meth:`serve`); ``started`` gets the bound port."""
        listeners = await open_listeners(host, port, "Stratum over TLS (--stratum-tls)")
        bound = listeners[0].socket.getsockname()[1]
        log.info("stratum: listening for TLS on %s:%d", host, bound)
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, partial(self._handle_tls, context), listeners)
            task_status.started(bound)

    def new_work(self, clean: bool) -> None:
        """New template or sharechain tip: every authorized connection gets a fresh job.

        The fan-out runs in the server's own task at the next scheduling point, so a burst of new work
        (a sync batch moving the tip many times) is sent once, and a session that caused it (a miner's
        share made the new tip) is never re-entered while it handles that miner's line."""
        self._pending_clean = clean or bool(self._pending_clean)
        self._epoch += 1
        self._work_ready.set()

    async def _fan_out(self) -> None:
        while True:
            await self._work_ready.wait()
            self._work_ready = trio.Event()
            clean, self._pending_clean = bool(self._pending_clean), None
            await self._send_work(clean, self._epoch)

    async def _send_work(self, clean: bool, epoch: int) -> None:
        """Every connection's job for the current work (the provider's newest, even for the connections
        reached after a newer tip arrived mid-walk; the next walk then passes them by), but those that
        fetched theirs since the work of ``epoch`` came (a miner authorizing meanwhile)."""
        now = trio.current_time()
        sent = 0

        def visit(conn: _Connection) -> None:
            nonlocal sent
            if conn.closing or conn.epoch >= epoch:
                return
            conn.epoch = self._epoch
            try:
                data = conn.session.new_work(clean, now)
            except Exception:
                log.exception("stratum: building work for %s failed", conn.peer)
                return
            if data:
                sent += 1
                self._queue(conn, data)

        connections = await in_batches(self._connections, visit)
        seconds = trio.current_time() - now
        log.info("stratum: new work sent to %d of %d connections in %.3f s", sent, connections, seconds)
        self._publish(WorkSent(sent, connections, seconds))

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def worker_names(self) -> set[str]:
        """Authorized worker names over every connection."""
        return self._workers.names()

    def counts(self) -> SubmitCounts:
        """Every submit decided since the start: accepted, rejected by reason, and the work accepted."""
        return self._counter.counts()

    def hashrate(self) -> float:
        """Hashes per second of every miner together, estimated from the difficulty they submitted."""
        return self._counter.hashrate(trio.current_time())

    def stats(self) -> StratumStats:
        """Connected miners, authorized workers, accepted/rejected counts per reason and hash rate."""
        now = trio.current_time()
        names = self._workers.names()
        return StratumStats(
            connections=len(self._connections),
            workers=self._counter.worker_stats(names, now),
            accepted=self._counter.accepted,
            rejected=dict(self._counter.rejected),
            hashrate=self._counter.hashrate(now),
        )

    # -- connections ---------------------------------------------------------------------------

    async def _take(self, stream: trio.SocketStream) -> None:
        """A plain TCP miner accepted: to the hub (no task per connection)."""
        self._open(stream)

    def _open(self, stream: trio.SocketStream) -> None:
        peer, ip = _peer_name(stream)
        refusal = self.gate.admit(ip)  # before any per-connection state is built
        if refusal is not None:
            if self._nursery is not None and self._farewells < _MAX_FAREWELLS:
                self._farewells += 1
                self._nursery.start_soon(self._farewell, stream, refusal)
            else:  # a flood of refused connections: closed at once, without the error line
                stream.socket.close()
            return
        extranonce1 = self._allocate_extranonce1()
        session = Session(extranonce1, self.provider, self._session_config, self._counter, trio.current_time())
        conn = _Connection(session, peer, ip, stream, self._drop)
        conn.hub, conn.nursery = True, self._nursery
        self._connections[conn] = None
        self._hub.add(conn.fd, conn)
        log.info("stratum: %s connected (extranonce1 %s)", peer, extranonce1.hex())

    async def _farewell(self, stream: trio.SocketStream, refusal: bytes) -> None:
        try:
            await turn_away(stream, refusal)
        finally:
            self._farewells -= 1

    def _hub_received(self, conn: _Connection, data: bytes) -> None:
        try:
            going_on = self._received(conn, data)
        except Exception:
            log.exception("stratum: connection %s failed", conn.peer)
            going_on = False
        if not going_on:
            self._close(conn)

    def _close(self, conn: _Connection) -> None:
        """End a hub connection: forget it now, close its socket once its writer (if any) has flushed."""
        if conn.closing:
            return
        conn.closing = True
        self._hub.remove(conn.fd)
        self._forget(conn)
        self.gate.release(conn.ip)
        if conn.outbox.draining and conn.drain_scope is not None:
            conn.drain_scope.deadline = trio.current_time() + _CLOSE_FLUSH_SECONDS  # it closes the socket
        else:
            self._close_socket(conn)

    def _close_socket(self, conn: _Connection) -> None:
        conn.fd = -1  # the descriptor may be reused once closed: never written directly again
        assert isinstance(conn.stream, trio.SocketStream)
        conn.stream.socket.close()

    def _forget(self, conn: _Connection) -> None:
        """A connection is gone: its extranonce, workers and statistics are released."""
        session = conn.session
        self._connections.pop(conn, None)
        self._extranonces_in_use.discard(session.extranonce1)
        self._forget_workers(session)
        if conn.closed_for is not None:
            self.gate.refuse(conn.ip, conn.closed_for, f"{conn.closed_for.value}: closing {conn.peer}")
        for name in sorted(session.workers):
            self._publish(WorkerDisconnected(name, conn.peer))
        log.info("stratum: %s disconnected (%s)", conn.peer, ", ".join(sorted(session.workers)) or "not authorized")

    def _drop(self, conn: _Connection) -> None:
        if conn.hub:
            self._close(conn)
        else:
            assert conn.cancel_scope is not None  # (set before a TLS connection's task is told of it)
            conn.cancel_scope.cancel()

    async def _handle_tls(self, context: ssl.SSLContext, stream: trio.SocketStream) -> None:
        peer, ip = _peer_name(stream)
        if self.gate.admit(ip) is not None:
            await turn_away(stream, None)  # no TLS yet to say why in
            return
        try:
            await self._serve_tls(context, stream, peer, ip)
        finally:
            self.gate.release(ip)

    async def _serve_tls(self, context: ssl.SSLContext, stream: trio.SocketStream, peer: str, ip: str) -> None:
        tls = trio.SSLStream(stream, context, server_side=True)
        with trio.move_on_after(self.config.tls_handshake_timeout) as deadline:
            try:
                await tls.do_handshake()
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                log.info("stratum: TLS handshake with %s failed: %s", peer, exc.__cause__ or exc)
                await trio.aclose_forcefully(stream)
                return
        if deadline.cancelled_caught:
            log.info("stratum: %s did not finish its TLS handshake in %.0f s", peer, self.config.tls_handshake_timeout)
            await trio.aclose_forcefully(stream)
            return
        await self._serve_connection(tls, f"{peer} (TLS)", ip)

    async def _serve_connection(self, stream: trio.abc.Stream, peer: str, ip: str) -> None:
        extranonce1 = self._allocate_extranonce1()
        session = Session(extranonce1, self.provider, self._session_config, self._counter, trio.current_time())
        conn = _Connection(session, peer, ip, stream, self._drop)
        conn.cancel_scope = trio.CancelScope()
        self._connections[conn] = None
        log.info("stratum: %s connected (extranonce1 %s)", peer, extranonce1.hex())
        try:
            with conn.cancel_scope:
                async with trio.open_nursery() as nursery:
                    conn.nursery = nursery
                    try:
                        await self._reader(conn, stream)
                    finally:
                        # No writer is started from here on: a failed reader closes the nursery, and
                        # its exit is a scheduling point where a fan-out may come before ``_forget``.
                        conn.closing = True
                    # let the waiting writer (if any) flush what is queued, then stop
                    nursery.cancel_scope.deadline = trio.current_time() + _CLOSE_FLUSH_SECONDS
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
            log.debug("stratum: %s: %s", peer, group.exceptions[0])
        except* Exception:
            log.exception("stratum: connection %s failed", peer)
        finally:
            conn.closing = True
            conn.fd = -1
            self._forget(conn)
            with trio.CancelScope(shield=True):
                with trio.move_on_after(_CLOSE_FLUSH_SECONDS):
                    await stream.aclose()
                await trio.aclose_forcefully(stream)

    async def _reader(self, conn: _Connection, stream: trio.abc.Stream) -> None:
        # Nothing but the stream stays referenced while waiting: ten thousand idle readers hold no
        # answer or received bytes between two lines.
        while self._received(conn, await stream.receive_some(_READ_SIZE)):
            pass

    def _received(self, conn: _Connection, data: bytes | bytearray) -> bool:
        """Answer what ``conn`` sent; False when the connection is to end (closed by the miner or dropped)."""
        if not data:
            return False
        session = conn.session
        was, job_was, tally = set(session.workers), session.latest_job_id, Tally.of(session)
        decided, started = self._counter.decisions, trio.current_time()
        out = session.receive_data(bytes(data), started)
        banned = self.gate.judge(conn.ip, tally, Tally.of(session))
        self._workers.acquire(session.workers - was)
        if session.latest_job_id != job_was:
            conn.epoch = self._epoch
        if self._counter.decisions > decided:
            self._publish(SubmitsAnswered(self._counter.decisions - decided, trio.current_time() - started))
        for name in sorted(session.workers - was):
            log.info("stratum: %s authorized as %s", conn.peer, name)
            self._publish(WorkerConnected(name, session.payout_address or "", conn.peer))
        self._queue(conn, out.data)
        if out.close:
            log.warning("stratum: dropping %s after %d malformed messages", conn.peer, session.protocol_errors)
            return False
        return banned is None

    def _queue(self, conn: _Connection, data: bytes) -> None:
        """Send ``data`` to ``conn``: written now as far as the socket takes it, the rest by its writer task."""
        if not data:
            return
        if conn.hub:
            if conn.closing:
                return
        elif conn.cancel_scope is None or conn.cancel_scope.cancel_called:
            return
        outbox = conn.outbox
        if conn.fd >= 0 and not outbox.draining and not outbox:  # most writes: nothing waits before this
            self._write(conn, data)
            return
        if not outbox.put(data):
            log.warning("stratum: %s is not reading; dropping it", conn.peer)
            self._drop(conn)
            return
        if outbox.draining:
            return
        if conn.fd >= 0:
            self._write(conn, outbox.take())
        else:
            self._start_drain(conn)

    def _write(self, conn: _Connection, pending: bytes) -> None:
        """Write ``pending`` to a plain TCP connection with nothing waiting before it; what the socket does not
        take waits in the outbox for the connection's writer task."""
        try:
            sent = os.write(conn.fd, pending)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EINTR):
                log.debug("stratum: %s: %s", conn.peer, exc)
                self._drop(conn)
                return
            sent = 0
        if sent == len(pending):
            return
        conn.outbox.put_back(pending[sent:])
        if len(conn.outbox) > conn.outbox.limit:
            log.warning("stratum: %s is not reading; dropping it", conn.peer)
            self._drop(conn)
            return
        self._start_drain(conn)

    def _start_drain(self, conn: _Connection) -> None:
        if conn.nursery is not None and not conn.closing:
            conn.outbox.draining = True
            conn.nursery.start_soon(self._drain, conn)

    async def _drain(self, conn: _Connection) -> None:
        """Write what waits for ``conn`` while its socket is full (or it is TLS), then stop."""
        if not conn.hub:
            return await self._send_waiting(conn)
        try:
            with trio.CancelScope() as conn.drain_scope:
                await self._send_waiting(conn)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            log.debug("stratum: %s: %s", conn.peer, exc)
            self._close(conn)
        finally:
            conn.drain_scope = None
            if conn.closing and conn.fd >= 0:
                self._close_socket(conn)

    async def _send_waiting(self, conn: _Connection) -> None:
        outbox = conn.outbox
        try:
            while data := outbox.take():
                await conn.stream.send_all(data)
        finally:
            outbox.draining = False

    async def _ticker(self) -> None:
        while True:
            await trio.sleep(self.config.tick_interval)
            now = trio.current_time()

            def visit(conn: _Connection, now: float = now) -> None:
                if not conn.closing:
                    self._queue(conn, conn.session.tick(now))

            await in_batches(self._connections, visit)

    def _allocate_extranonce1(self) -> bytes:
        while True:
            value = self._next_extranonce1.to_bytes(4, "big")
            self._next_extranonce1 = (self._next_extranonce1 + self.config.extranonce1_stride) & 0xFFFFFFFF
            if value not in self._extranonces_in_use:
                self._extranonces_in_use.add(value)
                return value

    def _forget_workers(self, session: Session) -> None:
        """A worker name's statistics go when its last connection does (in O(names), not O(connections):
        ten thousand connections closing at once must not cost ten thousand squared)."""
        for name in self._workers.release(session.workers):
            self._counter.forget_worker(name)

    def reload_bans(self) -> int:
        """Read the Stratum ban file again (SIGHUP); the bans it lists. Connections of a newly banned IP are
        closed by the next sweep."""
        return self.gate.reload()


def _peer_name(stream: trio.SocketStream) -> tuple[str, str]:
    """``HOST:PORT`` for the log, and the IP the limits count."""
    try:
        host, port = stream.socket.getpeername()[:2]
    except OSError:
        return "?", "?"
    return f"{host}:{port}", str(host)


def _now_or_zero() -> float:
    """trio's clock when built inside trio; serve() restarts the hash-rate clock anyway."""
    try:
        return trio.current_time()
    except RuntimeError:
        return 0.0

