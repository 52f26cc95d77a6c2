"""A process that finds a real share whenever the coordinator says ``fire``: new work during the run.

It is one more Stratum miner (its own payout address). It asks for a huge difficulty, which the node
caps at the share difficulty and announces with mining.set_difficulty, so the announced difficulty
is the sharechain's; it then grinds a nonce meeting it (about 2^16 hashes at devnet's minimum) and
submits it. The node accepts the share, a new share tip, and sends every miner new work: the
fan-out the coordinator measures. Replies ``("fired", wall time the submit was sent, accepted)``.
"""

from __future__ import annotations

import json
import selectors
import socket
import time
from multiprocessing.connection import Connection

from benchmarks.loadgen.connection import Job, grind
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target, from_wire
from sharechain.bitcoin.stratum.work import u32_hex

_GRIND_CHUNK = 4096
_GRIND_LIMIT = 30.0


class Finder:
    def __init__(self, host: str, port: int, address: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setblocking(False)
        self.address = address
        self.buffer = b""
        self.job: Job | None = None
        self.target = 0
        self.extranonce1 = b""
        self.answers: dict[int, dict] = {}
        self.next_id = 10
        self.extranonce2 = 0
        self.subscribe_id = self._call("mining.subscribe", ["otedama-load-finder/1"])
        self._call("mining.authorize", [address, "x"])

    def _call(self, method: str, params: list) -> int:
        self.next_id += 1
        line = json.dumps({"id": self.next_id, "method": method, "params": params}) + "\n"
        self.sock.sendall(line.encode())  # short lines: the socket buffer takes them whole
        return self.next_id

    def pump(self) -> None:
        """Read what has arrived and apply it."""
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            if not data:
                raise ConnectionError("the node closed the finder's connection")
            self.buffer += data
            *lines, self.buffer = self.buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    self._on_message(json.loads(line))

    def _on_message(self, message: dict) -> None:
        method = message.get("method")
        if method == "mining.notify":
            self.job = Job.from_params(message["params"])
        elif method == "mining.set_difficulty":
            self.target = difficulty_to_target(from_wire(message["params"][0]))
        elif isinstance(message.get("id"), int):
            self.answers[message["id"]] = message
            if message["id"] == self.subscribe_id and message.get("result"):
                self.extranonce1 = bytes.fromhex(message["result"][1])

    def wait_answer(self, request_id: int, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            while request_id not in self.answers and time.monotonic() < deadline:
                selector.select(0.05)
                self.pump()
        return self.answers.pop(request_id, None)

    def fire(self) -> tuple[float, bool]:
        """Find and submit one share; the wall time it was sent and whether the node accepted it."""
        self.wait_answer(self._call("mining.suggest_difficulty", [1e9]), 10)
        self.pump()
        if self.job is None or not self.target:
            return time.time(), False
        job, target = self.job, self.target - self.target // 10_000  # margin over the rounded difficulty
        started = time.monotonic()
        while time.monotonic() - started < _GRIND_LIMIT:
            self.extranonce2 += 1
            extranonce2 = self.extranonce2.to_bytes(4, "big")
            nonce, met = grind(job, self.extranonce1, extranonce2, target, _GRIND_CHUNK)
            if met:
                break
        else:
            return time.time(), False
        sent = time.time()
        request = self._call("mining.submit",
                             [self.address, job.job_id, extranonce2.hex(), u32_hex(job.ntime), u32_hex(nonce)])
        answer = self.wait_answer(request, 30)
        return sent, bool(answer and answer.get("result") is True)


def main(host: str, port: int, address: str, pipe: Connection) -> None:
    """Process entry point: wait for ``fire`` commands until ``quit`` or the pipe closes."""
    finder = Finder(host, port, address)
    with selectors.DefaultSelector() as selector:
        selector.register(finder.sock, selectors.EVENT_READ, "sock")
        selector.register(pipe.fileno(), selectors.EVENT_READ, "pipe")
        while True:
            for key, _ in selector.select(1.0):
                if key.data == "sock":
                    finder.pump()
                    continue
                try:
                    command = pipe.recv()
                except EOFError:
                    return
                if command[0] == "quit":
                    return
                sent, accepted = finder.fire()
                pipe.send(("fired", sent, accepted))
