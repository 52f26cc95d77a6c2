"""A Stratum client that behaves as the cpuminer 2.5.1 of the session vector does, written apart from
the built-in miner so that each checks the node independently.

From the vector (../shared/vectors/cpuminer-stratum-session.json, "cpuminer_behaviour_observed"):
subscribe with id 1 and ["cpuminer/2.5.1"], authorize with id 2, every submit with id 4 and the
hand-formatted '"id":4'; set_difficulty takes effect at the next notify; a notify with clean_jobs
restarts the work at once; new work is taken when the job id changes; only shares meeting its own
target are sent, and none for a job whose prevhash is no longer the current one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction

import trio

from kernels.factory import make_scanner
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target, from_wire
from sharechain.bitcoin.stratum.work import coinbase_bytes, header_bytes, merkle_root_from_branch, swap_words

SUBSCRIBE = '{"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}\n'


@dataclass(frozen=True)
class Notify:
    job_id: str
    prevhash: str
    params: list
    clean: bool
    difficulty: Fraction


@dataclass
class CpuminerStyle:
    """Run :meth:`run` in a nursery; read what it saw on the wire."""

    port: int
    user: str
    notifies: list[Notify] = field(default_factory=list)
    accepted: int = 0
    rejected: list[str] = field(default_factory=list)

    async def run(self) -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        async with stream:
            await stream.send_all(SUBSCRIBE.encode())
            await stream.send_all(json.dumps({"id": 2, "method": "mining.authorize", "params": [self.user, "x"]})
                                  .encode() + b"\n")
            async with trio.open_nursery() as nursery:
                self._work_changed = trio.Event()
                nursery.start_soon(self._mine, stream)
                await self._read(stream)  # returns when the node closes the connection: that fails the test
                raise AssertionError("the node closed the cpuminer-style connection")

    async def _read(self, stream: trio.SocketStream) -> None:
        buffer, pending = b"", Fraction(1)
        self.extranonce1 = b""
        while data := await stream.receive_some(65536):
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = json.loads(line)
                if message.get("id") == 1:
                    self.extranonce1 = bytes.fromhex(message["result"][1])
                elif message.get("method") == "mining.set_difficulty":
                    pending = from_wire(message["params"][0])  # applied from the next notify on
                elif message.get("method") == "mining.notify":
                    params = message["params"]
                    self.notifies.append(Notify(params[0], params[1], params, params[8], pending))
                    self._work_changed.set()
                elif message.get("id") == 4:
                    if message.get("result") is True:
                        self.accepted += 1
                    else:
                        self.rejected.append(str(message.get("error")))

    async def _mine(self, stream: trio.SocketStream) -> None:
        scanner = make_scanner("numba", threads=1)
        while True:
            while not self.notifies or not self.extranonce1:
                await self._work_changed.wait()
                self._work_changed = trio.Event()
            job = self.notifies[-1]
            self._work_changed = trio.Event()
            _, prevhash, coinb1, coinb2, branch, version, bits, ntime, _ = job.params
            coinbase = coinbase_bytes(bytes.fromhex(coinb1), self.extranonce1, bytes(4), bytes.fromhex(coinb2))
            root = merkle_root_from_branch(coinbase, [bytes.fromhex(h) for h in branch])
            header76 = header_bytes(int(version, 16), swap_words(bytes.fromhex(prevhash)), root, int(ntime, 16),
                                    int(bits, 16), 0)[:76]
            target, start = difficulty_to_target(job.difficulty), 0
            while not self._work_changed.is_set() and start < 1 << 32:
                found = await trio.to_thread.run_sync(scanner.scan, header76, target, start, 1 << 20)
                start += found.hashes_done
                for nonce in found.nonces:
                    if self.notifies[-1].prevhash != prevhash:
                        break  # cpuminer sends nothing for work on a previous block
                    line = ('{"method": "mining.submit", "params": ' + json.dumps(
                        [self.user, job.job_id, "00000000", ntime, f"{nonce:08x}"]) + ', "id":4}\n')
                    await stream.send_all(line.encode())
