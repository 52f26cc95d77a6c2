"""A recording Stratum proxy: what each node acknowledged to the miner, as header hashes.

The miner (``otedama mine``) connects here; the proxy relays to the first node of its list that
accepts a connection (the node being killed, else its peer: a miner's backup pool) and reads both
directions: extranonce1, the version mask, every job, every submit, every answer. For each
``result: true`` it rebuilds the header the node checked and records its hash, so a share a node
acknowledged is known from outside the node. Runs its own asyncio loop in a thread.

Not every acknowledged submit is a share (the connection difficulty may be below the share
difficulty). To tell, after each job the proxy asks, on the miner's behalf, for a huge difficulty
(``mining.suggest_difficulty``, answered to the proxy only): the node caps it at that job's share
difficulty and announces the cap (or nothing, when the job already carried it), so the proxy knows
each job's share difficulty (rounded down to 6 digits: a share target at most 1e-5 easier).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.loadgen.connection import Job
from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target, from_wire
from sharechain.bitcoin.stratum.work import header_bytes, merkle_root_from_branch

_ASK = "proxy-"
_KEPT_JOBS = 256


@dataclass(frozen=True)
class Ack:
    """A submit the node ``node`` answered with ``result: true``: its header hash (internal order), and
    whether it met its job's share target (None: that job's share difficulty was not learnt)."""

    node: str
    hash: bytes
    time: float
    share: bool | None


class _Relay:
    """One miner connection and its upstream: the Stratum state needed to rebuild submitted headers."""

    def __init__(self, node: str, acks: list[Ack], lock: threading.Lock) -> None:
        self.node, self.acks, self.lock = node, acks, lock
        self.extranonce1 = b""
        self.mask = 0
        self.jobs: dict[str, Job] = {}
        self.submits: dict[object, list] = {}
        self.requests: dict[object, str] = {}
        self.announced: object = None
        self.share_difficulty: dict[str, object] = {}
        self.latest: str | None = None
        self.asking: dict[str, object] | None = None
        self.asks = 0
        self.to_node: list[bytes] = []  # lines the proxy itself sends upstream

    def _ask(self) -> None:
        """Ask for a huge difficulty, then for something harmless whose answer ends the node's reply."""
        self.asks += 1
        ask = {"id": f"{_ASK}{self.asks}-ask", "method": "mining.suggest_difficulty", "params": [1e9]}
        end = {"id": f"{_ASK}{self.asks}-end", "method": "mining.extranonce.subscribe", "params": []}
        self.to_node.append(json.dumps(ask).encode() + b"\n" + json.dumps(end).encode() + b"\n")

    def from_miner(self, line: bytes) -> None:
        message = json.loads(line)
        method = message.get("method")
        self.requests[message.get("id")] = method
        if method == "mining.submit":
            self.submits[message.get("id")] = message["params"]

    def from_node(self, line: bytes) -> bool:
        """Observe one line from the node; False if it answers the proxy's own requests."""
        message = json.loads(line)
        method = message.get("method")
        if method == "mining.set_difficulty":
            self.announced = message["params"][0]
            if self.asking is not None:
                self.asking["cap"] = self.announced
        elif method == "mining.notify":
            job = Job.from_params(message["params"])
            # Old jobs are kept: the answer to a submit may come after the new work it caused.
            self.jobs[job.job_id] = job
            while len(self.jobs) > _KEPT_JOBS:
                del self.jobs[next(iter(self.jobs))]
            self.latest = job.job_id
            if self.asking is not None:
                self.asking["broken"] = True  # new work came between: this round says nothing
            self._ask()
        if method is not None:
            return True
        answer_id = str(message.get("id"))
        if answer_id.startswith(_ASK):
            if answer_id.endswith("-ask"):
                self.asking = {"job": self.latest, "cap": None, "broken": False}
            elif self.asking is not None:
                job_id = self.asking["job"]
                if not self.asking["broken"] and isinstance(job_id, str):
                    # Nothing announced: the node's current difficulty already was the cap.
                    self.share_difficulty[job_id] = self.asking["cap"] or self.announced
                self.asking = None
            return False
        request = self.requests.pop(message.get("id"), None)
        result = message.get("result")
        if request == "mining.subscribe" and isinstance(result, list):
            self.extranonce1 = bytes.fromhex(result[1])
        elif request == "mining.configure" and isinstance(result, dict):
            self.mask = int(result.get("version-rolling.mask", "0"), 16) if result.get("version-rolling") else 0
        elif request == "mining.submit":
            params = self.submits.pop(message.get("id"), None)
            if result is True and params is not None:
                digest = self._hash(params)
                cap = self.share_difficulty.get(params[1])
                share = None if cap is None else hash_to_int(digest) <= difficulty_to_target(from_wire(cap))
                with self.lock:
                    self.acks.append(Ack(self.node, digest, time.time(), share))
        return True

    def _hash(self, params: list) -> bytes:
        job = self.jobs[params[1]]
        coinbase = job.coinb1 + self.extranonce1 + bytes.fromhex(params[2]) + job.coinb2
        version = job.version
        if len(params) > 5:
            version = (job.version & ~self.mask) | (int(params[5], 16) & self.mask)
        root = merkle_root_from_branch(coinbase, job.branch)
        return sha256d(header_bytes(version, job.prev_hash, root, int(params[3], 16), job.bits, int(params[4], 16)))


class RecordingProxy:
    """Listens on 127.0.0.1; ``upstreams`` are (name, port) in order of preference."""

    def __init__(self, upstreams: list[tuple[str, int]], trace: Path | None = None) -> None:
        self.upstreams = upstreams
        self.trace = open(trace, "a") if trace is not None else None  # noqa: SIM115
        self.acks: list[Ack] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.port = 0
        self.connected_to: str | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stratum-proxy", daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> RecordingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def acked(self, node: str) -> list[Ack]:
        with self.lock:
            return [a for a in self.acks if a.node == node]

    def drop_miner(self) -> None:
        """Close the miner's connection (it reconnects, to the first node that is up)."""
        self._loop.call_soon_threadsafe(self._close_all)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.close()

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        server.close()
        self._close_all()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, server.wait_closed(), return_exceptions=True))
        loop.close()
        if self.trace is not None:
            self.trace.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        for name, port in self.upstreams:
            try:
                upstream = (name, *await asyncio.open_connection("127.0.0.1", port))
                break
            except OSError:
                continue
        if upstream is None:
            writer.close()
            return
        name, node_reader, node_writer = upstream
        self.connected_to = name
        relay = _Relay(name, self.acks, self.lock)
        self._writers.update((writer, node_writer))
        try:
            await asyncio.gather(self._pipe(reader, node_writer, self._traced(">", relay.from_miner), relay, node_writer),
                                 self._pipe(node_reader, writer, self._traced("<", relay.from_node), relay, node_writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.connected_to = None
            for w in (writer, node_writer):
                self._writers.discard(w)
                w.close()

    def _traced(self, direction: str, observe: Callable[[bytes], object]) -> Callable[[bytes], object]:
        if self.trace is None:
            return observe
        trace = self.trace

        def traced(line: bytes) -> object:
            trace.write(f"{time.time():.3f} {direction} {line.decode(errors='replace').rstrip()}\n")
            return observe(line)
        return traced

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, observe: Callable[[bytes], object],
                    relay: _Relay, upstream: asyncio.StreamWriter) -> None:
        while line := await source.readline():
            if not line.strip() or observe(line) is not False:
                sink.write(line)
            for ask in relay.to_node:
                upstream.write(ask)
            relay.to_node.clear()
            await sink.drain()
        sink.close()
