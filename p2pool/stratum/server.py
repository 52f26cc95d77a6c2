"""The Stratum TCP server: a thin trio loop around :class:`~p2pool.stratum.session.Session`.

One task reads each connection and one writes it (writes go through a queue, so the node's
synchronous :meth:`StratumServer.new_work` can push jobs); a miner that stops reading is dropped.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import trio

from p2pool.stratum.difficulty import from_wire
from p2pool.stratum.job import Solution
from p2pool.stratum.provider import WorkProvider
from p2pool.stratum.session import Session, SessionConfig
from p2pool.stratum.stats import ShareCounter, StratumStats
from p2pool.stratum.vardiff import VardiffConfig

log = logging.getLogger(__name__)

_READ_SIZE = 65536
_SEND_QUEUE = 256
_CLOSE_FLUSH_SECONDS = 5.0


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
    # First extranonce1 handed out (then counting up); random when None.
    extranonce1_start: int | None = None

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
        )


class _Connection:
    def __init__(self, session: Session, outbox: trio.MemorySendChannel[bytes], peer: str) -> None:
        self.session = session
        self.outbox = outbox
        self.peer = peer
        self.cancel_scope = trio.CancelScope()


class StratumServer:
    """Serves miners work from a :class:`WorkProvider` and hands it their solutions."""

    def __init__(self, provider: WorkProvider, config: StratumConfig | None = None) -> None:
        self.provider = provider
        self.config = config or StratumConfig()
        self._session_config = self.config.session_config()
        self._counter = ShareCounter(_now_or_zero(), self.config.hashrate_window)
        self._connections: set[_Connection] = set()
        start = self.config.extranonce1_start
        self._next_extranonce1 = secrets.randbits(32) if start is None else start & 0xFFFFFFFF
        self._extranonces_in_use: set[bytes] = set()

    # -- public API ----------------------------------------------------------------------------

    async def serve(
        self, host: str | None = None, port: int | None = None, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen and serve until cancelled; ``task_status.started`` gets the bound port."""
        host = self.config.host if host is None else host
        port = self.config.port if port is None else port
        if not self._connections and self._counter.accepted == 0:
            self._counter = ShareCounter(trio.current_time(), self.config.hashrate_window)
        listeners = await trio.open_tcp_listeners(port, host=host)
        bound = listeners[0].socket.getsockname()[1]
        log.info("stratum: listening on %s:%d", host, bound)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._ticker)
            await nursery.start(trio.serve_listeners, self._handle, listeners)
            task_status.started(bound)

    def new_work(self, clean: bool) -> None:
        """New template or sharechain tip: every authorized connection gets a fresh job."""
        now = trio.current_time()
        for conn in list(self._connections):
            try:
                data = conn.session.new_work(clean, now)
            except Exception:
                log.exception("stratum: building work for %s failed", conn.peer)
                continue
            self._queue(conn, data)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def stats(self) -> StratumStats:
        """Connected miners, authorized workers, accepted/rejected counts per reason and hash rate."""
        now = trio.current_time()
        names = {name for conn in self._connections for name in conn.session.workers}
        return StratumStats(
            connections=len(self._connections),
            workers=self._counter.worker_stats(names, now),
            accepted=self._counter.accepted,
            rejected=dict(self._counter.rejected),
            hashrate=self._counter.hashrate(now),
        )

    # -- connections ---------------------------------------------------------------------------

    async def _handle(self, stream: trio.SocketStream) -> None:
        peer = _peer_name(stream)
        extranonce1 = self._allocate_extranonce1()
        session = Session(extranonce1, self.provider, self._session_config, self._counter, trio.current_time())
        outbox, inbox = trio.open_memory_channel[bytes](_SEND_QUEUE)
        conn = _Connection(session, outbox, peer)
        self._connections.add(conn)
        log.info("stratum: %s connected (extranonce1 %s)", peer, extranonce1.hex())
        try:
            with conn.cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, stream, inbox)
                    await self._reader(conn, stream)
                    outbox.close()  # let the writer flush what is queued, then stop
                    nursery.cancel_scope.deadline = trio.current_time() + _CLOSE_FLUSH_SECONDS
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
            log.debug("stratum: %s: %s", peer, group.exceptions[0])
        except* Exception:
            log.exception("stratum: connection %s failed", peer)
        finally:
            self._connections.discard(conn)
            self._extranonces_in_use.discard(extranonce1)
            self._forget_workers(session)
            with trio.CancelScope(shield=True):
                await stream.aclose()
            log.info("stratum: %s disconnected (%s)", peer, ", ".join(sorted(session.workers)) or "not authorized")

    async def _reader(self, conn: _Connection, stream: trio.SocketStream) -> None:
        session = conn.session
        while True:
            data = await stream.receive_some(_READ_SIZE)
            if not data:
                return
            was = set(session.workers)
            out = session.receive_data(data, trio.current_time())
            for name in session.workers - was:
                log.info("stratum: %s authorized as %s", conn.peer, name)
            # The node has every solution (a share stored durably) before the miner hears "accepted":
            # a block solution awaits the chain backend, and the answer must not leave during that wait.
            for solution in out.solutions:
                await self._submit(solution)
            self._queue(conn, out.data)
            if out.close:
                log.warning("stratum: dropping %s after %d malformed messages", conn.peer, session.protocol_errors)
                return

    async def _writer(self, stream: trio.SocketStream, inbox: trio.MemoryReceiveChannel[bytes]) -> None:
        async for data in inbox:
            await stream.send_all(data)

    async def _submit(self, solution: Solution) -> None:
        try:
            await self.provider.submit(solution)
        except Exception:
            log.exception("stratum: the node failed to take a solution from %s", solution.worker)

    def _queue(self, conn: _Connection, data: bytes) -> None:
        if not data:
            return
        try:
            conn.outbox.send_nowait(data)
        except trio.WouldBlock:
            log.warning("stratum: %s is not reading; dropping it", conn.peer)
            conn.cancel_scope.cancel()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    async def _ticker(self) -> None:
        while True:
            await trio.sleep(self.config.tick_interval)
            now = trio.current_time()
            for conn in list(self._connections):
                self._queue(conn, conn.session.tick(now))

    def _allocate_extranonce1(self) -> bytes:
        while True:
            value = self._next_extranonce1.to_bytes(4, "big")
            self._next_extranonce1 = (self._next_extranonce1 + 1) & 0xFFFFFFFF
            if value not in self._extranonces_in_use:
                self._extranonces_in_use.add(value)
                return value

    def _forget_workers(self, session: Session) -> None:
        still = {name for conn in self._connections for name in conn.session.workers}
        for name in session.workers - still:
            self._counter.forget_worker(name)


def _peer_name(stream: trio.SocketStream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
    except OSError:
        return "?"
    return f"{host}:{port}"


def _now_or_zero() -> float:
    """trio's clock when built inside trio; serve() restarts the hash-rate clock anyway."""
    try:
        return trio.current_time()
    except RuntimeError:
        return 0.0
