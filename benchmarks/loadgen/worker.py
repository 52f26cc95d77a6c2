"""A worker process: thousands of miner connections on one asyncio loop, driven over a pipe.

Commands from the coordinator: ``("measure",)`` starts submitting (each connection at its own
phase of the interval, so submits arrive evenly, not in bursts), ``("stop",)`` stops submitting,
waits for outstanding answers (at most the timeout) and sends the final report. Progress goes the
other way once a second. The worker exits at the run's deadline whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import time
from multiprocessing.connection import Connection
from typing import Any

from benchmarks.loadgen.config import LoadConfig
from benchmarks.loadgen.connection import Counters, MinerConnection
from sharechain.bitcoin.address import script_to_address
from sharechain.bitcoin.script import witness_program
from sharechain.params import DEVNET

_TICK = 0.05


def miner_address(index: int) -> str:
    """A distinct, valid devnet/regtest P2WPKH address (bcrt1q...) for miner ``index``."""
    program = hashlib.sha256(b"otedama-load" + index.to_bytes(4, "big")).digest()[:20]
    return script_to_address(witness_program(0, program), DEVNET.address_format)


class Worker:
    def __init__(self, config: LoadConfig, index: int, pipe: Connection) -> None:
        self.config = config
        self.index = index
        self.pipe = pipe
        self.counters = Counters()
        self.connections: list[MinerConnection] = []
        slots = max(1, round(config.interval / _TICK))
        self.slots: list[list[MinerConnection]] = [[] for _ in range(slots)]
        self.measuring = False
        self.started = 0.0
        self.done = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.pipe.fileno(), self._on_command)
        tasks = [asyncio.create_task(self._ramp()), asyncio.create_task(self._progress()),
                 asyncio.create_task(self._submits())]
        try:
            await asyncio.wait_for(self.done.wait(), self.config.deadline)
        finally:
            for task in tasks:
                task.cancel()
            for conn in self.connections:
                conn.close()
            loop.remove_reader(self.pipe.fileno())

    async def _ramp(self) -> None:
        loop = asyncio.get_running_loop()
        share = self.config.share(self.index)
        rate = self.config.connect_rate / self.config.workers
        start = time.monotonic()
        pending: set[asyncio.Task] = set()
        for n, miner in enumerate(share):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = loop.create_task(self._connect(miner))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending)

    async def _connect(self, miner: int) -> None:
        loop = asyncio.get_running_loop()
        conn = MinerConnection(miner_address(miner), self.counters, self.config.max_tries)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (self.config.host, self.config.port))
        except OSError:
            sock.close()
            self.counters.connect_failures += 1
            return
        conn.attach(loop, sock)
        self.connections.append(conn)
        self.slots[miner % len(self.slots)].append(conn)

    async def _submits(self) -> None:
        """Each slot of connections submits once per interval, on the clock (a late tick catches up)."""
        while not self.measuring:
            await asyncio.sleep(_TICK)
        started, tick = time.monotonic(), 0
        while self.measuring:
            due = int((time.monotonic() - started) / _TICK)
            while tick <= due:
                for conn in self.slots[tick % len(self.slots)]:
                    conn.submit()
                tick += 1
                if tick % 10 == 0:
                    now = time.time()
                    for conn in self.connections:
                        conn.expire(now, self.config.timeout)
            await asyncio.sleep(max(0.0, started + tick * _TICK - time.monotonic()))

    async def _progress(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._send_progress("progress")

    def _send_progress(self, kind: str, **extra: Any) -> None:
        counters = self.counters
        latencies, counters.latencies = counters.latencies, type(counters.latencies)("d")
        latencies_read, counters.latencies_read = counters.latencies_read, type(counters.latencies)("d")
        self.pipe.send((kind, {
            "offered": counters.offered, "answered": counters.answered, "accepted": counters.accepted,
            "rejected": dict(counters.rejected), "reasons": dict(counters.reasons),
            "timeouts": counters.timeouts, "late": counters.late,
            "disconnects": counters.disconnects, "connect_failures": counters.connect_failures,
            "connected": sum(1 for c in self.connections if c.sock is not None),
            "ready": sum(1 for c in self.connections if c.ready),
            "latencies": latencies.tobytes(), "latencies_read": latencies_read.tobytes(), **extra,
        }))

    def _on_command(self) -> None:
        try:
            command = self.pipe.recv()
        except EOFError:
            self.done.set()  # the coordinator is gone
            return
        if command[0] == "measure":
            for conn in self.connections:
                conn.measuring = True
            self.measuring = True
        elif command[0] == "stop":
            self.measuring = False
            asyncio.get_running_loop().create_task(self._finish())

    async def _finish(self) -> None:
        deadline = time.monotonic() + self.config.timeout
        while time.monotonic() < deadline and any(c.unanswered() for c in self.connections):
            await asyncio.sleep(0.1)
        now = time.time() + self.config.timeout  # whatever is left counts as timed out
        for conn in self.connections:
            conn.expire(now, self.config.timeout)
            conn.measuring = False
        unanswered = sum(c.unanswered() for c in self.connections)
        notifies = [c.notifies.tobytes() for c in self.connections]
        notifies_read = [c.notifies_read.tobytes() for c in self.connections]
        self._send_progress("final", unanswered=unanswered, notifies=notifies, notifies_read=notifies_read,
                            cpu=time.process_time())
        self.done.set()


def main(config: LoadConfig, index: int, pipe: Connection) -> None:
    """Process entry point (multiprocessing target)."""
    if config.nice:
        os.nice(config.nice)
    with contextlib.suppress(TimeoutError, KeyboardInterrupt):
        asyncio.run(Worker(config, index, pipe).run())
