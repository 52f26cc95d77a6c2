"""A Stratum worker process: ``python -m p2pool.stratum_processes.child CONTROL TAKE HANDOFF`` (inherited
socket descriptors, started by :mod:`.pool`).

It runs the whole Stratum server (sessions, submit checks, fan-out of new work) over the connections the
node hands it on HANDOFF, with jobs from the work the node sends on CONTROL (:class:`.relayed.RelayedWork`);
it asks the node on TAKE to take a share or block, and reports its events, closed connections, strikes and
counts on CONTROL. It ends when the node closes CONTROL (or dies).
"""

from __future__ import annotations

import logging
import socket
import sys

import trio

from p2pool import gc_policy, memory
from p2pool.events import SubmitsAnswered, WorkSent
from p2pool.stratum.server import StratumServer
from p2pool.stratum_processes.messages import Bans, NoWork, Report, Setup, Snapshot, Work
from p2pool.stratum_processes.relayed import RelayedBans, RelayedGate, RelayedWork
from p2pool.stratum_processes.wire import BlockingChannel, Channel, WireError

log = logging.getLogger("otedama.stratum.worker")

REPORT_EVERY = 0.1  # seconds between reports of events and closed connections
SNAPSHOT_EVERY = 1.0  # seconds between snapshots of the counts
WORKERS_EVERY = 5  # snapshots between two that carry the per-worker statistics
_HANDOFF_BATCH = 64  # descriptors taken per receive


class _Relay(logging.Handler):
    """Log records kept for the next report: the node writes them where it writes its own."""

    def __init__(self, lines: list[tuple[str, int, str]]) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append((record.name, record.levelno, message))


class WorkerProcess:
    def __init__(self, setup: Setup, control: Channel, take: BlockingChannel, handoff: socket.socket) -> None:
        self.setup = setup
        self.control = control
        self.handoff = handoff
        self.source = RelayedWork(setup.params, take)
        self._events: list[object] = []
        self._closed: list[str] = []
        self._strikes: dict[str, tuple[int, int]] = {}  # IP -> invalid, good submits since the last report
        self.logs: list[tuple[str, int, str]] = []
        self._answered: list[tuple[int, float]] = []
        self.bans = RelayedBans(setup.bans, self._strike)
        self.server = StratumServer(self.source, setup.config, publish=self._publish)
        self.server.gate = RelayedGate(setup.config.limits, self.bans, self._publish, self._closed.append)

    def _strike(self, ip: str, invalid: int, good: int) -> None:
        was_invalid, was_good = self._strikes.get(ip, (0, 0))
        self._strikes[ip] = (was_invalid + invalid, was_good + good)

    def _publish(self, event: object) -> None:
        if type(event) is SubmitsAnswered:
            self._answered.append((event.count, event.seconds))
            return
        if isinstance(event, WorkSent):
            memory.trim()  # what this fan-out made and freed goes back to the system
        self._events.append(event)

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.server.serve_adopted)
            nursery.start_soon(self._adopt_forever)
            nursery.start_soon(self._report_forever)
            nursery.start_soon(self._snapshot_forever)
            try:
                while True:
                    message = await self.control.receive()
                    if isinstance(message, (Work, NoWork)):
                        self.server.new_work(self.source.on_message(message))
                    elif isinstance(message, Bans):
                        self.bans.replace(message.bans)
            except WireError:
                log.info("stratum worker %d: the node closed its channel; stopping", self.setup.index)
            nursery.cancel_scope.cancel()

    async def _adopt_forever(self) -> None:
        while True:
            await trio.lowlevel.wait_readable(self.handoff)
            try:
                data, fds, _, _ = socket.recv_fds(self.handoff, 16, _HANDOFF_BATCH)
            except BlockingIOError:
                continue
            if not data and not fds:
                return  # the node closed it: no more connections (the control channel ends this process)
            for fd in fds:
                self.server.adopt(trio.SocketStream(trio.socket.from_stdlib_socket(_socket(fd))))

    async def _report_forever(self) -> None:
        while True:
            await trio.sleep(REPORT_EVERY)
            if self._events or self._closed or self._strikes or self.logs or self._answered:
                strikes = tuple((ip, invalid, good) for ip, (invalid, good) in self._strikes.items())
                report = Report(tuple(self._events), tuple(self._closed), strikes, tuple(self.logs),
                                tuple(self._answered))
                self._events, self._closed[:], self._strikes, self.logs[:], self._answered = [], [], {}, [], []
                await self.control.send(report)

    async def _snapshot_forever(self) -> None:
        count = 0
        while True:
            await trio.sleep(SNAPSHOT_EVERY)
            server = self.server
            workers = server.stats().workers if count % WORKERS_EVERY == 0 else None
            count += 1
            await self.control.send(Snapshot(server.connection_count, frozenset(server.worker_names()),
                                             server.counts(), server.hashrate(), workers))


def _socket(fd: int) -> socket.socket:
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    return sock


async def _main(control_fd: int, take_fd: int, handoff_fd: int) -> None:
    control = Channel(trio.SocketStream(trio.socket.from_stdlib_socket(_socket(control_fd))))
    setup = await control.receive()
    assert isinstance(setup, Setup)
    take = BlockingChannel(socket.socket(fileno=take_fd))
    worker = WorkerProcess(setup, control, take, _socket(handoff_fd))
    root = logging.getLogger()
    root.setLevel(setup.log_level)
    root.addHandler(_Relay(worker.logs))
    await worker.run()


def main(argv: list[str]) -> int:
    control_fd, take_fd, handoff_fd = (int(arg) for arg in argv)
    gc_policy.tune_for_a_server()
    trio.run(_main, control_fd, take_fd, handoff_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
