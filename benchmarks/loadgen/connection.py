"""One simulated miner: a non-blocking socket on an asyncio loop that subscribes, authorizes and submits
real work.

Each submit is built on the latest job like a real miner's: extranonce2 counts up, the coinbase and
merkle root are rebuilt, and nonces are tried until the header meets the connection's difficulty
(at most ``max_tries``, so a high difficulty turns into low-difficulty rejects instead of CPU).

When a line came is taken twice: when it reached the miner's socket (the kernel's receive time stamp,
``SO_TIMESTAMPNS``: what a miner on another machine has then) and when this process read it (later by
however long the generator, sharing the node's cores, waited for a CPU). The first is the measure; the
second is reported beside it.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import struct
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
_READ_SIZE = 1 << 16
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # (Linux; the constant Python names since 3.13)
_STAMP = struct.Struct("@qq")  # struct timespec
_ANCILLARY_SIZE = socket.CMSG_SPACE(_STAMP.size)


def arrival(ancillary: list[tuple[int, int, bytes]], read_at: float) -> float:
    """The wall-clock time the data read last reached the socket (the kernel's stamp), else ``read_at``."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _STAMP.size:
            seconds, nanoseconds = _STAMP.unpack_from(data)
            return seconds + nanoseconds * 1e-9
    return read_at


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


_NUMBER = re.compile(r"\d+")


def refusal_reason(error: object) -> str:
    """A refusal's message without the numbers in it ("the job is N shares behind"), for counting them."""
    message = error[1] if isinstance(error, list) and len(error) > 1 and isinstance(error[1], str) else repr(error)
    return _NUMBER.sub("N", message[:120])


@dataclass
class Counters:
    """What a worker's connections did, summed; latencies (to the answer's arrival at the socket, and to its
    reading) are collected until taken."""

    offered: int = 0
    answered: int = 0
    accepted: int = 0
    rejected: dict[int, int] = field(default_factory=dict)
    # The refusals by what the node said (its message with the numbers in it taken out): why, not just the code.
    reasons: dict[str, int] = field(default_factory=dict)
    timeouts: int = 0
    late: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    latencies: array = field(default_factory=lambda: array("d"))
    latencies_read: array = field(default_factory=lambda: array("d"))


class MinerConnection:
    """The client side of one Stratum connection."""

    def __init__(self, address: str, counters: Counters, max_tries: int) -> None:
        self.address = address
        self.counters = counters
        self.max_tries = max_tries
        self.sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closing = False
        self.authorized = False
        self.extranonce1 = b""
        self.job: Job | None = None
        self.target = 0
        self.measuring = False
        # Each mining.notify's arrival at the socket and its reading (wall clock) while measuring: the fan-out.
        self.notifies = array("d")
        self.notifies_read = array("d")
        self._buffer = b""
        self._unsent = b""
        self._next_id = _FIRST_SUBMIT_ID
        self._extranonce2 = 0
        self._pending: dict[int, float] = {}  # request id -> when it was sent (wall clock)
        self._expired: set[int] = set()

    # -- the socket ----------------------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        """Start on a connected non-blocking socket: subscribe and authorize."""
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        self._loop, self.sock = loop, sock
        loop.add_reader(sock.fileno(), self._readable)
        self._send(_SUBSCRIBE_ID, "mining.subscribe", ["otedama-load/1"])
        self._send(_AUTHORIZE_ID, "mining.authorize", [self.address, "x"])

    def _readable(self) -> None:
        if self.sock is None:
            return
        try:
            data, ancillary, _, _ = self.sock.recvmsg(_READ_SIZE, _ANCILLARY_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, ancillary = b"", []
        if not data:
            self._lost()
            return
        read_at = time.time()
        self.data_received(data, arrival(ancillary, read_at), read_at)

    def _writable(self) -> None:
        if self.sock is not None and self._unsent:
            self._write(self._unsent)

    def _write(self, data: bytes) -> None:
        assert self.sock is not None and self._loop is not None
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._lost()
            return
        was_waiting = bool(self._unsent)
        self._unsent = data[sent:]
        if self._unsent and not was_waiting:
            self._loop.add_writer(self.sock.fileno(), self._writable)
        elif was_waiting and not self._unsent:
            self._loop.remove_writer(self.sock.fileno())

    def _lost(self) -> None:
        if not self.closing:
            self.counters.disconnects += 1
        self._detach()

    def _detach(self) -> None:
        sock, self.sock = self.sock, None
        if sock is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(sock.fileno())
            self._loop.remove_writer(sock.fileno())
        sock.close()

    def data_received(self, data: bytes, arrived: float, read_at: float) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > _MAX_BUFFER:
            self.close()
        for line in lines:
            if line.strip():
                self._on_message(json.loads(line), arrived, read_at)

    # -- driving -----------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.authorized and self.job is not None and self.sock is not None

    def submit(self) -> None:
        """Send one mining.submit on the latest job (counted as offered)."""
        job = self.job
        if job is None or self.sock is None or not self.authorized:
            return
        self._extranonce2 = (self._extranonce2 + 1) & 0xFFFFFFFF
        extranonce2 = self._extranonce2.to_bytes(4, "big")
        nonce, _ = grind(job, self.extranonce1, extranonce2, self.target, self.max_tries)
        request_id = self._next_id
        self._next_id += 1
        self._pending[request_id] = time.time()
        self.counters.offered += 1
        self._send(request_id, "mining.submit",
                   [self.address, job.job_id, extranonce2.hex(), u32_hex(job.ntime), u32_hex(nonce)])

    def expire(self, now: float, timeout: float) -> None:
        """Count submits unanswered for ``timeout`` seconds at ``now`` (wall clock; an answer after that is
        counted late)."""
        for request_id, sent in self._pending.items():
            if now - sent >= timeout and request_id not in self._expired:
                self.counters.timeouts += 1
                self._expired.add(request_id)

    def unanswered(self) -> int:
        """Submits still waiting for an answer (timed out or not)."""
        return len(self._pending)

    def close(self) -> None:
        self.closing = True
        self._detach()

    # -- messages ----------------------------------------------------------------------------------

    def _send(self, request_id: int, method: str, params: list) -> None:
        line = (json.dumps({"id": request_id, "method": method, "params": params}) + "\n").encode()
        if self._unsent:
            self._unsent += line
        elif self.sock is not None:
            self._write(line)

    def _on_message(self, message: dict, arrived: float, read_at: float) -> None:
        method = message.get("method")
        if method == "mining.notify":
            self.job = Job.from_params(message["params"])
            if self.measuring:  # new work: a new share tip (clean_jobs false) or block (true) alike
                self.notifies.append(arrived)
                self.notifies_read.append(read_at)
        elif method == "mining.set_difficulty":
            self.target = difficulty_to_target(from_wire(message["params"][0]))
        elif method is None:
            self._on_answer(message, arrived, read_at)

    def _on_answer(self, message: dict, arrived: float, read_at: float) -> None:
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
            counters.latencies.append(max(0.0, arrived - sent))
            counters.latencies_read.append(read_at - sent)
            error = message.get("error")
            if message.get("result") is True:
                counters.accepted += 1
            else:
                code = error[0] if isinstance(error, list) and error and isinstance(error[0], int) else 20
                counters.rejected[code] = counters.rejected.get(code, 0) + 1
                reason = refusal_reason(error)
                counters.reasons[reason] = counters.reasons.get(reason, 0) + 1
