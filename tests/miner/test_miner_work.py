"""The miner's pure parts: work planning, the client core on the real cpuminer transcript, the meter."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from miner_pool import USER, VECTOR, job

from miner.client import ClientConnection, DifficultySet, MinerJob, NewJob, SubmitResult, VersionRolling
from miner.meter import HashrateMeter
from miner.miner import MinerError, format_hashrate, parse_url
from miner.work import Extranonce2Counter, Work, WorkPlan, make_work, spread_bits
from p2pool.stratum.job import build_coinbase, build_header
from sharechain.bitcoin.stratum import codec as p
from tests.purity import IO, assert_pure

ROOT = Path(__file__).resolve().parents[2]
EN1 = bytes.fromhex("8a3f0001")


def transcript_client() -> tuple[ClientConnection, list[object]]:
    """Feed every server line of the real session to the client core."""
    client = ClientConnection()
    client.subscribe()
    client.authorize(USER, "x")
    events: list[object] = []
    for entry in VECTOR["transcript"]:
        if entry["dir"] == "S->C" and entry["seq"] < 8:
            events += client.receive_data(entry["line"].encode() + b"\n")
    return client, events


def test_client_reads_the_real_session_and_applies_difficulty_at_the_next_notify() -> None:
    client = ClientConnection()
    client.subscribe()
    client.authorize(USER, "x")
    jobs: list[MinerJob] = []
    for entry in VECTOR["transcript"]:
        if entry["dir"] == "S->C":
            jobs += [e.job for e in client.receive_data(entry["line"].encode() + b"\n") if isinstance(e, NewJob)]
    assert client.extranonce1 == EN1 and client.extranonce2_size == 4
    assert [(j.job_id, j.difficulty, j.clean) for j in jobs] == [
        ("job1", Fraction("0.001"), True), ("job2", Fraction("0.002"), True)]
    assert jobs[1].target == int(VECTOR["targets"]["difficulty_0.002"], 16)
    for miner_job, name in zip(jobs, ("job1", "job2"), strict=True):
        server_job = job(name, Fraction(1), base=name)
        assert miner_job.prev_hash == server_job.prev_hash and miner_job.merkle_branch == server_job.merkle_branch
        assert (miner_job.version, miner_job.bits, miner_job.ntime) == (server_job.version, server_job.bits,
                                                                      server_job.ntime)


def test_work_headers_equal_cpuminer_submitted_headers() -> None:
    _client, events = transcript_client()
    assert isinstance(events[-1], NewJob)
    work = make_work(events[-1].job, EN1, bytes(4), events[-1].job.version)
    for submit in VECTOR["submits"][:22]:
        assert work.header(submit["nonce_value"]).hex() == submit["header_hex"]
    assert work.version_bits is None


def test_submit_lines_carry_what_cpuminer_sent() -> None:
    client, _ = transcript_client()
    first = VECTOR["submits"][0]
    line = client.submit(USER, "job1", bytes(4), int(first["ntime"], 16), first["nonce_value"])
    request = p.parse_message(line)
    assert isinstance(request, p.Request)
    assert request.params == [USER, "job1", "00000000", "6b036f10", "a4984500"]
    assert client.receive_data(b'{"id": 3, "result": null, "error": [23, "Low difficulty share", null]}\n') == [
        SubmitResult(3, "job1", False, (23, "Low difficulty share"))]


def test_client_handles_refusals_and_garbage() -> None:
    client = ClientConnection()
    client.configure()
    assert client.receive_data(b'{"id": 1, "result": null, "error": [-32601, "Unknown method", null]}\n') == [
        VersionRolling(0)]
    assert client.receive_data(b'{"id": null, "method": "mining.set_difficulty", "params": [16]}\n') == [
        DifficultySet(Fraction(16))]
    for bad in (b"nope\n", b'{"id": null, "method": "mining.notify", "params": ["j", "zz"]}\n',
                b'{"id": null, "method": "mining.set_difficulty", "params": [0]}\n'):
        with pytest.raises(p.RemoteProtocolError):
            ClientConnection().receive_data(bad)


def _job(version: int = 0x20000000) -> MinerJob:
    _client, events = transcript_client()
    base = events[-1].job  # type: ignore[attr-defined]
    return MinerJob(**{**base.__dict__, "version": version})


def test_plan_rolls_version_bits_then_extranonce2_and_never_repeats_a_header() -> None:
    works = _walk(0x30000000, 0x00006000, 1000, 10)
    assert [(w.extranonce2, w.version) for w in works[:5]] == [
        (bytes(4), 0x30000000), (bytes(4), 0x30002000), (bytes(4), 0x30004000), (bytes(4), 0x30006000),
        (b"\0\0\0\1", 0x30000000)]
    assert [w.version_bits for w in works[:5]] == [None, 0x2000, 0x4000, 0x6000, None]
    assert len({w.header76 for w in works}) == len(works)
    # the job's own masked bits (0x30000000 has bit 28 set under 0x1fffe000) are walked too, never repeated
    wide = _walk(0x30000000, 0x1FFFE000, 10, 40)
    assert len({w.header76 for w in wide}) == 40 and all(w.extranonce2 == bytes(4) for w in wide)


def _walk(version: int, mask: int, space: int, headers: int) -> list[Work]:
    plan = WorkPlan(_job(version), EN1, Extranonce2Counter(4), version_mask=mask, nonce_space=space)
    works: list[Work] = []
    while len(works) < headers:
        chunk = plan.next_chunk(space)
        if not works or works[-1] is not chunk.work:
            works.append(chunk.work)
        plan.advance(chunk, chunk.count)
    return works


def test_rolled_versions_submit_only_masked_bits_and_keep_the_rest() -> None:
    for work in _walk(0x30000000, 0x1FFFE000, 10, 6):
        assert (work.version ^ 0x30000000) & ~0x1FFFE000 == 0
        if work.version_bits is not None:
            assert work.version_bits & ~0x1FFFE000 == 0
            assert (0x30000000 & ~0x1FFFE000) | work.version_bits == work.version
    with pytest.raises(ValueError):
        make_work(_job(), EN1, bytes(4), 0x20000001, mask=0x1FFFE000)


def test_partial_scans_resume_where_they_stopped() -> None:
    plan = WorkPlan(_job(), EN1, Extranonce2Counter(4), nonce_space=100)
    chunk = plan.next_chunk(80)
    assert (chunk.start, chunk.count) == (0, 80)
    plan.advance(chunk, 30)  # the kernel stopped early (64 nonces found)
    chunk = plan.next_chunk(80)
    assert (chunk.start, chunk.count) == (30, 70)  # never past the end of the nonce space
    plan.advance(chunk, chunk.count)
    chunk = plan.next_chunk(80)
    assert (chunk.start, chunk.work.extranonce2) == (0, b"\0\0\0\1")
    stale = chunk
    plan.advance(chunk, 80)
    plan.advance(stale, 10)  # a late, smaller report never moves the cursor back
    assert plan.next_chunk(80).start == 80


def test_each_plan_takes_a_fresh_extranonce2() -> None:
    counter = Extranonce2Counter(4)
    first = WorkPlan(_job(), EN1, counter)
    second = WorkPlan(_job(), EN1, counter)
    assert first.work.extranonce2 == bytes(4) and second.work.extranonce2 == b"\0\0\0\1"
    assert Extranonce2Counter(1, start=255).take() == b"\xff"


def test_make_work_matches_the_server_side_header() -> None:
    server_job = job("job1", Fraction(1))
    _client, events = transcript_client()
    work = make_work(events[-1].job, EN1, b"\1\2\3\4", server_job.version)  # type: ignore[attr-defined]
    header = build_header(server_job, build_coinbase(server_job, EN1, b"\1\2\3\4"), server_job.ntime, 77,
                          server_job.version)
    assert work.header(77) == header


def test_spread_bits() -> None:
    assert spread_bits(0b101, 0b1011000) == 0b1001000
    assert spread_bits(0, 0x1FFFE000) == 0 and spread_bits(0xFFFF, 0x1FFFE000) == 0x1FFFE000


def test_meter_and_formatting() -> None:
    meter = HashrateMeter(window=10)
    meter.add(0.0, 1.0, 1000)
    meter.add(1.0, 2.0, 3000)
    assert meter.rate(2.0) == 2000
    assert meter.rate(100.0) == 0
    assert format_hashrate(0) == "0 H/s" and format_hashrate(1_500_000) == "1.50 MH/s"


@pytest.mark.parametrize(("url", "expected"), [
    ("stratum+tcp://127.0.0.1:3333", ("127.0.0.1", 3333)),
    ("tcp://pool.example:1", ("pool.example", 1)),
    ("localhost:9332", ("localhost", 9332)),
    ("stratum+tcp://[::1]:3333", ("::1", 3333)),
])
def test_parse_url(url: str, expected: tuple[str, int]) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize("url", ["http://x:1", "stratum+tcp://host", "host:0", "host:99999", ":3333"])
def test_parse_url_refuses(url: str) -> None:
    with pytest.raises(MinerError):
        parse_url(url)


@pytest.mark.parametrize("path", ["miner/client.py", "miner/work.py", "miner/meter.py"])
def test_miner_cores_import_no_io(path: str) -> None:
    assert_pure([ROOT / path], IO | {"kernels"})
