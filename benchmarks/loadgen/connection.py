"""One simulated miner: an asyncio protocol that subscribes, authorizes and submits real work.

Each submit is built on the latest job like a real miner's: extranonce2 counts up, the coinbase and
merkle root are rebuilt, and nonces are tried until the header meets the connection's difficulty
(at most ``max_tries``, so a high difficulty turns into low-difficulty rejects instead of CPU).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from array import array
from dataclasses import dataclass, field

from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target, from_wire
from sharechain.bitcoin.stratum.work import header_bytes, merkle_root_from_branch, swap_words, u32_hex

_SUBSCRIBE_ID = 1
_AUTHORIZE_ID = 2
_FIRST_SUBMIT_ID = 100
_MAX_BUFFER = 1 << 20


@dataclass(frozen=True)
class Job:
    """A mining.notify as a miner keeps it."""

    job_id: str
    prev_hash: bytes
    coinb1: bytes
    coinb2: bytes
    branch: tuple[bytes, ...]
    version: int
    bits: int
    ntime: int

    @classmethod
    def from_params(cls, params: list) -> Job:
        return cls(str(params[0]), swap_words(bytes.fromhex(params[1])), bytes.fromhex(params[2]),
                   bytes.fromhex(params[3]), tuple(bytes.fromhex(h) for h in params[4]), int(params[5], 16),
                   int(params[6], 16), int(params[7], 16))


def grind(job: Job, extranonce1: bytes, extranonce2: bytes, target: int, tries: int) -> tuple[int, bool]:
    """A nonce whose header hash meets ``target`` (or the last one tried), and whether it does."""
    root = merkle_root_from_branch(job.coinb1 + extranonce1 + extranonce2 + job.coinb2, job.branch)
    prefix = header_bytes(job.version, job.prev_hash, root, job.ntime, job.bits, 0)[:76]
    nonce = random.getrandbits(32)
    for _ in range(max(1, tries)):
        nonce = (nonce + 1) & 0xFFFFFFFF
        if hash_to_int(sha256d(prefix + nonce.to_bytes(4, "little"))) <= target:
            return nonce, True
    return nonce, False


@dataclass
class Counters:
    """What a worker's connections did, summed; latencies are collected until taken."""

    offered: int = 0
    answered: int = 0
    accepted: int = 0
    rejected: dict[int, int] = field(default_factory=dict)
    timeouts: int = 0
    late: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    latencies: array = field(default_factory=lambda: array("d"))


class MinerConnection(asyncio.Protocol):
    """The client side of one Stratum connection."""

    def __init__(self, address: str, counters: Counters, max_tries: int) -> None:
        self.address = address
        self.counters = counters
        self.max_tries = max_tries
        self.transport: asyncio.Transport | None = None
        self.closing = False
        self.authorized = False
        self.extranonce1 = b""
        self.job: Job | None = None
        self.target = 0
        self.measuring = False
        # Arrival (wall clock) of each mining.notify while measuring: new-work fan-out.
        self.notifies = array("d")
        self._buffer = b""
        self._next_id = _FIRST_SUBMIT_ID
        self._extranonce2 = 0
        self._pending: dict[int, float] = {}
        self._expired: set[int] = set()

    # -- asyncio callbacks -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send(_SUBSCRIBE_ID, "mining.subscribe", ["otedama-load/1"])
        self._send(_AUTHORIZE_ID, "mining.authorize", [self.address, "x"])

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > _MAX_BUFFER:
            self.close()
        for line in lines:
            if line.strip():
                self._on_message(json.loads(line))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.counters.disconnects += 1
        self.transport = None

    # -- driving -----------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.authorized and self.job is not None and self.transport is not None

    def submit(self) -> None:
        """Send one mining.submit on the latest job (counted as offered)."""
        job = self.job
        if job is None or self.transport is None or not self.authorized:
            return
        self._extranonce2 = (self._extranonce2 + 1) & 0xFFFFFFFF
        extranonce2 = self._extranonce2.to_bytes(4, "big")
        nonce, _ = grind(job, self.extranonce1, extranonce2, self.target, self.max_tries)
        request_id = self._next_id
        self._next_id += 1
        self._pending[request_id] = time.perf_counter()
        self.counters.offered += 1
        self._send(request_id, "mining.submit",
                   [self.address, job.job_id, extranonce2.hex(), u32_hex(job.ntime), u32_hex(nonce)])

    def expire(self, now: float, timeout: float) -> None:
        """Count submits unanswered for ``timeout`` seconds (an answer after that is counted late)."""
        for request_id, sent in self._pending.items():
            if now - sent >= timeout and request_id not in self._expired:
                self.counters.timeouts += 1
                self._expired.add(request_id)

    def unanswered(self) -> int:
        """Submits still waiting for an answer (timed out or not)."""
        return len(self._pending)

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    # -- messages ----------------------------------------------------------------------------------

    def _send(self, request_id: int, method: str, params: list) -> None:
        assert self.transport is not None
        line = json.dumps({"id": request_id, "method": method, "params": params}) + "\n"
        self.transport.write(line.encode())

    def _on_message(self, message: dict) -> None:
        method = message.get("method")
        if method == "mining.notify":
            self.job = Job.from_params(message["params"])
            if self.measuring:  # new work: a new share tip (clean_jobs false) or block (true) alike
                self.notifies.append(time.time())
        elif method == "mining.set_difficulty":
            self.target = difficulty_to_target(from_wire(message["params"][0]))
        elif method is None:
            self._on_answer(message)

    def _on_answer(self, message: dict) -> None:
        request_id = message.get("id")
        if request_id == _SUBSCRIBE_ID:
            self.extranonce1 = bytes.fromhex(message["result"][1])
        elif request_id == _AUTHORIZE_ID:
            self.authorized = message.get("result") is True
        elif isinstance(request_id, int) and request_id in self._pending:
            sent = self._pending.pop(request_id)
            counters = self.counters
            counters.answered += 1
            if request_id in self._expired:
                self._expired.discard(request_id)
                counters.late += 1
            counters.latencies.append(time.perf_counter() - sent)
            error = message.get("error")
            if message.get("result") is True:
                counters.accepted += 1
            else:
                code = error[0] if isinstance(error, list) and error and isinstance(error[0], int) else 20
                counters.rejected[code] = counters.rejected.get(code, 0) + 1
