"""The trio Stratum server over real TCP on 127.0.0.1, with a provider serving the vector's jobs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from fractions import Fraction

import trio
from stratum_vector import EXTRANONCE1, USER, VECTOR, LineClient, VectorProvider, easy_job, grind, vector_job

from miner.client import ClientConnection, NewJob
from p2pool.events import WorkSent
from p2pool.stratum.job import Solution
from p2pool.stratum.server import StratumConfig, StratumServer
from p2pool.stratum.submit import SubmitError
from sharechain.bitcoin.hashing import hash_to_hex, hash_to_int, sha256d
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target
from sharechain.bitcoin.stratum.work import coinbase_bytes, header_bytes, merkle_root_from_branch


@asynccontextmanager
async def running(provider: VectorProvider, **config: object) -> AsyncIterator[tuple[StratumServer, int]]:
    settings: dict[str, object] = {"host": "127.0.0.1", "port": 0, "extranonce1_start": 0x8A3F0001}
    settings.update(config)
    server = StratumServer(provider, StratumConfig(**settings))  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve)
        yield server, port
        nursery.cancel_scope.cancel()


async def wait_until(predicate: object, timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while not predicate():  # type: ignore[operator]
            await trio.sleep(0.01)


async def test_cpuminer_session_replays_over_tcp_byte_for_byte() -> None:
    provider = VectorProvider(vector_job("job1"))
    async with running(provider, initial_difficulty=0.001, vardiff=False) as (server, port):
        client = await LineClient.connect(port)
        transcript = VECTOR["transcript"]
        for entry in transcript:
            if entry["seq"] > 30 and entry["seq"] <= 51:
                continue  # the set_difficulty 0.002 episode is replayed by the pure-session test
            if entry["dir"] == "C->S":
                await client.send(entry["line"] + "\n")
            else:
                expected = entry["line"]
                if entry["seq"] == 2:
                    message = json.loads(expected)
                    for _, sub_id in message["result"][0]:
                        expected = expected.replace(sub_id, EXTRANONCE1.hex())
                assert (await client.line()).decode() == expected, entry["seq"]
            if entry["seq"] == 30:
                provider.job = vector_job("job2")
                await provider.wait_for_solutions(12)
                server.new_work(clean=True)
        solutions = await provider.wait_for_solutions(12 + 12)
        replayed = [s for s in VECTOR["submits"] if s["submit_seq"] <= 30 or s["submit_seq"] > 51]
        assert [s.header.hex() for s in solutions] == [s["header_hex"] for s in replayed]
        assert [hash_to_hex(s.hash) for s in solutions] == [s["hash_display"] for s in replayed]
        stats = server.stats()
        assert stats.connections == 1 and stats.accepted == 24 and stats.rejected == {}
        assert [w.name for w in stats.workers] == [USER] and stats.hashrate > 0
        await client.aclose()
        await wait_until(lambda: server.connection_count == 0)


async def test_every_method_and_error_code_over_tcp() -> None:
    provider = VectorProvider(easy_job("e1", Fraction(1)))
    async with running(provider, initial_difficulty=0.000001, min_difficulty=0.000001, vardiff=False) as (server, port):
        client = await LineClient.connect(port)
        early = {"id": 1, "method": "mining.submit", "params": [USER, "e1", "00000000", "6b036f10", "00000000"]}
        assert (await client.call(early))["error"][0] == 25
        configure = await client.call({"id": 2, "method": "mining.configure",
                                       "params": [["version-rolling"], {"version-rolling.mask": "ffffffff"}]})
        assert configure["result"] == {"version-rolling": True, "version-rolling.mask": "1fffe000"}
        subscribe = await client.call({"id": 3, "method": "mining.subscribe", "params": ["test/1"]})
        assert subscribe["result"][1:] == ["8a3f0001", 4]
        assert (await client.call({"id": 4, "method": "mining.extranonce.subscribe", "params": []}))["result"] is True
        assert (await client.call({"id": 5, "method": "mining.suggest_difficulty", "params": [0.000002]}))["result"]
        bad_user = await client.call({"id": 6, "method": "mining.authorize", "params": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "x"]})
        assert bad_user["error"][0] == 24 and "payout address" in bad_user["error"][1]
        await client.send({"id": 7, "method": "mining.authorize", "params": [USER + ".rig", "x"]})
        assert await client.message() == {"id": 7, "result": True, "error": None}
        assert await client.message() == {"id": None, "method": "mining.set_difficulty", "params": [2e-06]}
        notify = await client.message()
        assert notify["method"] == "mining.notify" and notify["params"][0] == "e1"

        job = provider.job
        assert job is not None
        version_bits = 0x0ABCE000
        version = (job.version & ~0x1FFFE000) | version_bits
        root = merkle_root_from_branch(coinbase_bytes(job.coinb1, EXTRANONCE1, bytes(4), job.coinb2), job.merkle_branch)
        header76 = header_bytes(version, job.prev_hash, root, job.ntime, job.bits, 0)[:76]
        target = difficulty_to_target(Fraction("0.000002"))
        nonce = grind(header76, target)

        def submit(request_id: int, *params: str) -> dict[str, object]:
            return {"id": request_id, "method": "mining.submit", "params": [USER + ".rig", *params]}

        ntime = f"{job.ntime:08x}"
        ok = await client.call(submit(10, "e1", "00000000", ntime, f"{nonce:08x}", f"{version_bits:08x}"))
        assert ok == {"id": 10, "result": True, "error": None}
        (solution,) = await provider.wait_for_solutions(1)
        assert solution.version == version and solution.worker == USER + ".rig"
        assert hash_to_int(sha256d(solution.header)) <= target
        dup = await client.call(submit(11, "e1", "00000000", ntime, f"{nonce:08x}", f"{version_bits:08x}"))
        assert dup["error"][:2] == [22, "Duplicate share"]
        assert (await client.call(submit(12, "e1", "00000000", ntime, f"{nonce:08x}", "e0000000")))["error"][0] == 20
        low_nonce = next(n for n in range(1000) if hash_to_int(sha256d(header76 + n.to_bytes(4, "little"))) > target)
        low = await client.call(submit(13, "e1", "00000000", ntime, f"{low_nonce:08x}", f"{version_bits:08x}"))
        assert low["error"][0] == 23
        assert (await client.call(submit(14, "zz", "00000000", ntime, f"{nonce:08x}")))["error"][0] == 21
        assert (await client.call(submit(15, "e1", "0000", ntime, f"{nonce:08x}")))["error"][0] == 20
        assert (await client.call(submit(16, "e1", "00000000", "00000001", f"{nonce:08x}")))["error"][0] == 20
        other = {"id": 17, "method": "mining.submit", "params": ["someone", "e1", "00000000", ntime, "00000000"]}
        assert (await client.call(other))["error"][0] == 24
        unknown = await client.call({"id": 18, "method": "mining.get_transactions", "params": []})
        assert unknown["error"][0] == -32601
        stats = server.stats()
        assert stats.accepted == 1
        assert stats.rejected == {"not-subscribed": 1, "duplicate": 1, "bad-version": 1, "low-difficulty": 1, "job-not-found": 1,
                                  "bad-params": 1, "bad-ntime": 1, "unauthorized": 1}
        await client.aclose()


async def test_malformed_lines_leave_the_connection_and_the_server_healthy() -> None:
    provider = VectorProvider(vector_job("job1"))
    async with running(provider, max_line_size=4096) as (server, port):
        client = await LineClient.connect(port)
        garbage = [b"not json\n", b"\x00\xff\xfe\n", b"42\n", b'{"method": 1}\n', b'{"id": 1, "params": []}\n',
                   b"x" * 10000 + b"\n", b'{"id": 2, "method": "mining.subscribe", "params": {}}\n']
        for line in garbage:
            await client.send(line)
            answer = await client.message()
            assert answer["result"] is None and answer["error"][0] in (-32700, -32600), line[:20]
            works = await client.call({"id": 50, "method": "mining.extranonce.subscribe", "params": []})
            assert works["result"] is True
        second = await LineClient.connect(port)
        subscribe = await second.call({"id": 1, "method": "mining.subscribe", "params": []})
        assert subscribe["result"][1] == "8a3f0002"  # a different extranonce1 per connection
        assert server.connection_count == 2
        await client.aclose()
        await second.aclose()
        await wait_until(lambda: server.connection_count == 0)


async def test_a_garbage_flood_is_disconnected() -> None:
    provider = VectorProvider(vector_job("job1"))
    async with running(provider, max_protocol_errors=10) as (server, port):
        client = await LineClient.connect(port)
        await client.send(b"garbage\n" * 30)
        answers = 0
        try:
            while True:
                await client.line()
                answers += 1
        except EOFError:
            pass
        assert answers == 11
        await client.aclose()
        await wait_until(lambda: server.connection_count == 0)
        fresh = await LineClient.connect(port)
        assert (await fresh.call({"id": 1, "method": "mining.subscribe", "params": []}))["result"][2] == 4
        await fresh.aclose()


async def test_vardiff_raises_difficulty_for_fast_real_shares() -> None:
    provider = VectorProvider(easy_job("e1", Fraction(1)))
    async with running(provider, initial_difficulty=0.000001, min_difficulty=0.000001,
                       target_submit_interval=30.0) as (server, port):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        core = ClientConnection()
        await stream.send_all(core.subscribe() + core.authorize(USER, "x"))
        events: list[object] = []
        while not any(isinstance(e, NewJob) for e in events):
            events += core.receive_data(await stream.receive_some(65536))
        job, en1 = core.job, core.extranonce1
        assert job is not None and en1 is not None and job.difficulty == Fraction("0.000001")
        root = merkle_root_from_branch(coinbase_bytes(job.coinb1, en1, bytes(4), job.coinb2), job.merkle_branch)
        header76 = header_bytes(job.version, job.prev_hash, root, job.ntime, job.bits, 0)[:76]
        nonce = -1
        for _ in range(6):  # six real shares within a fraction of a second: far above one per 30 s
            nonce = grind(header76, job.target, start=nonce + 1)
            await stream.send_all(core.submit(USER, job.job_id, bytes(4), job.ntime, nonce))
        await provider.wait_for_solutions(6)
        while core.difficulty == Fraction("0.000001"):
            core.receive_data(await stream.receive_some(65536))
        # A new connection's first retargets may move far (the fast start), never past the job's share
        # difficulty (1 here): every real share must still be submitted.
        raised = core.difficulty
        assert Fraction("0.000004") < raised <= 1
        # the next notify carries the connection's difficulty (a slow machine may have retargeted again
        # meanwhile: never lower, never past the share difficulty)
        provider.job = easy_job("e2", Fraction(1))
        server.new_work(clean=False)
        while core.job is None or core.job.job_id != "e2":
            core.receive_data(await stream.receive_some(65536))
        assert core.job.difficulty == core.difficulty and raised <= core.job.difficulty <= 1
        await stream.aclose()


async def test_a_fan_out_is_announced_once_done_with_the_jobs_it_sent() -> None:
    provider, events = VectorProvider(vector_job("job1")), list[object]()
    server = StratumServer(provider, StratumConfig(host="127.0.0.1", port=0), publish=events.append)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve)
        miner, idle = await LineClient.connect(port), await LineClient.connect(port)
        await idle.call({"id": 1, "method": "mining.subscribe", "params": []})  # (not authorized: no job)
        await miner.call({"id": 1, "method": "mining.subscribe", "params": []})
        await miner.call({"id": 2, "method": "mining.authorize", "params": [USER, "x"]})
        assert (await miner.message())["method"] == "mining.set_difficulty"
        assert (await miner.message())["params"][0] == "job1"
        provider.job = vector_job("job2")
        server.new_work(clean=True)
        assert (await miner.message())["params"][0] == "job2"
        await wait_until(lambda: any(isinstance(e, WorkSent) for e in events))
        (sent,) = [e for e in events if isinstance(e, WorkSent)]
        assert (sent.jobs, sent.connections) == (1, 2) and sent.seconds >= 0
        await miner.aclose()
        await idle.aclose()
        nursery.cancel_scope.cancel()


async def test_new_work_before_authorize_sends_nothing_and_no_work_sends_nothing() -> None:
    provider = VectorProvider(None)
    async with running(provider) as (server, port):
        client = await LineClient.connect(port)
        await client.call({"id": 1, "method": "mining.subscribe", "params": []})
        server.new_work(clean=True)
        assert (await client.call({"id": 2, "method": "mining.authorize", "params": [USER, "x"]}))["result"] is True
        server.new_work(clean=True)
        while not provider.scripts_asked:  # the server asks (in its fan-out task), the node has nothing
            await trio.sleep(0.01)
        provider.job = vector_job("job1")
        server.new_work(clean=False)
        assert (await client.message())["method"] == "mining.set_difficulty"
        notify = await client.message()
        assert notify["params"][0] == "job1" and notify["params"][8] is True
        await client.aclose()


class _RefusingProvider(VectorProvider):
    """A node that refuses what it is given, with its reason (as the sharechain would a bad share)."""

    def take(self, solution: Solution) -> SubmitError | None:
        super().take(solution)
        return SubmitError(20, "invalid-share", "Share refused by the sharechain: why")


async def test_the_answer_is_the_nodes_verdict_so_it_leaves_only_after_the_node_took_the_solution() -> None:
    # The session hands a solution to the node (which stores a share durably) and answers with what the
    # node said: an "accepted" can never go out before the node has the solution, nor be wrong.
    provider = _RefusingProvider(easy_job("e1", Fraction(1, 2**32)))
    async with running(provider, initial_difficulty=1 / 2**32, min_difficulty=1 / 2**32, vardiff=False) as (_, port):
        client = await LineClient.connect(port)
        await client.call({"id": 1, "method": "mining.subscribe", "params": []})
        await client.send({"id": 2, "method": "mining.authorize", "params": [USER, "x"]})
        while (await client.message()).get("method") != "mining.notify":
            pass
        job = provider.job
        assert job is not None
        reply = await client.call({"id": 3, "method": "mining.submit",
                                   "params": [USER, "e1", "00000000", f"{job.ntime:08x}", "00000000"]})
        assert reply == {"id": 3, "result": None, "error": [20, "Share refused by the sharechain: why", None]}
        assert len(provider.solutions) == 1
        await client.aclose()
