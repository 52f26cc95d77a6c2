"""Replay the real cpuminer session through the pure server session: same bytes, headers and decisions."""

from __future__ import annotations

import json
from fractions import Fraction

from stratum_vector import EXTRANONCE1, USER, VECTOR, VectorProvider, vector_job

from p2pool.stratum.job import Solution
from p2pool.stratum.session import Session, SessionConfig
from p2pool.stratum.stats import ShareCounter
from sharechain.bitcoin.address import address_to_script
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.params import REGTEST


def _session(provider: VectorProvider) -> Session:
    config = SessionConfig(initial_difficulty=Fraction("0.001"), vardiff_enabled=False)
    return Session(EXTRANONCE1, provider, config, ShareCounter(0.0), now=0.0)


def _expected_server_line(line: str) -> str:
    """The vector's subscribe answer carries random subscription ids; ours are the extranonce1 hex."""
    message = json.loads(line)
    if isinstance(message.get("result"), list) and message["result"] and isinstance(message["result"][0], list):
        for pair in message["result"][0]:
            line = line.replace(pair[1], EXTRANONCE1.hex())
    return line


def test_replay_rebuilds_every_byte_header_and_decision() -> None:
    provider = VectorProvider(vector_job("job1"))
    session = _session(provider)
    produced: list[str] = []
    solutions: list[Solution] = []
    events = {e["after_seq"]: e["event"] for e in VECTOR["events"]}
    now = 0.0
    for entry in VECTOR["transcript"]:
        now = entry["t_ms"] / 1000
        if entry["dir"] == "C->S":
            out = session.receive_data(entry["line"].encode() + b"\n", now)
            assert not out.close
            produced.extend(out.data.decode().splitlines())
            solutions.extend(out.solutions)
        else:
            assert produced, f"seq {entry['seq']}: expected {entry['line']!r}, nothing was sent"
            assert produced.pop(0) == _expected_server_line(entry["line"]), f"seq {entry['seq']}"
        event = events.get(entry["seq"], "")
        if "set_difficulty 0.002" in event:
            produced.extend(session.set_difficulty(Fraction("0.002"), now).decode().splitlines())
        if "sending notify job2" in event:
            provider.job = vector_job("job2")
            produced.extend(session.new_work(clean=True, now=now).decode().splitlines())
    assert produced == []

    submits = VECTOR["submits"]
    assert len(solutions) == len(submits) == 34
    script = address_to_script(USER, REGTEST.address_format)
    for solution, submit in zip(solutions, submits, strict=True):
        assert solution.job.job_id == submit["job_id"]
        assert solution.header.hex() == submit["header_hex"]
        assert hash_to_hex(solution.hash) == submit["hash_display"]
        assert solution.nonce == submit["nonce_value"]
        assert solution.worker == USER
        assert solution.payout_script == script
        assert solution.extranonce1 == EXTRANONCE1
        assert solution.extranonce2 == bytes.fromhex(submit["extranonce2"])
        assert solution.version == 0x30000000
    layout = VECTOR["jobs"]["job1"]["coinbase_layout"]
    assert solutions[0].coinbase.hex() == layout["coinbase_for_extranonce2_00000000"]
    # the shares that became blocks on Core
    blocks = {b["share_line_seq"]: b for b in VECTOR["blocks_from_shares"]}
    by_seq = {s["submit_seq"]: sol for s, sol in zip(submits, solutions, strict=True)}
    for seq, block in blocks.items():
        assert hash_to_hex(by_seq[seq].hash) == block["block_hash"]
        assert block["block_hex"].startswith(by_seq[seq].header.hex())


def test_job1_shares_below_new_difficulty_still_count_at_the_job_difficulty() -> None:
    """set_difficulty 0.002 applies from the next notify: the 5 job1 shares under 0.002 stay accepted."""
    late = [s for s in VECTOR["submits"] if s["job_id"] == "job1" and s["submit_seq"] > 31]
    weak = [s for s in late if not s["meets_difficulty_0.002"]]
    assert len(weak) == 5 and all(s["server_reply"]["result"] is True for s in weak)
