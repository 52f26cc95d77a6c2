"""Framing, the JSON-RPC codec and the notify encoding, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from stratum_vector import VECTOR, vector_job

from p2pool.stratum import protocol as p
from p2pool.stratum.job import build_coinbase, build_header, notify_params, swap_words
from sharechain.bitcoin.hashing import hash_to_hex, sha256d
from tests.purity import IO, assert_pure

ROOT = Path(__file__).resolve().parents[3]


def test_notify_params_are_the_vector_params() -> None:
    for name in ("job1", "job2"):
        job = vector_job(name)
        assert notify_params(job, job.job_id, job.clean) == VECTOR["jobs"][name]["params"]


def test_prevhash_word_swap_matches_the_observed_rule() -> None:
    job = vector_job("job1")
    assert swap_words(job.prev_hash).hex() == VECTOR["jobs"]["job1"]["params"][1]
    assert swap_words(swap_words(job.prev_hash)) == job.prev_hash
    with pytest.raises(ValueError):
        swap_words(b"abc")


def test_headers_rebuild_from_the_submits() -> None:
    job = vector_job("job1")
    submit = VECTOR["submits"][0]
    coinbase = build_coinbase(job, bytes.fromhex("8a3f0001"), bytes.fromhex(submit["extranonce2"]))
    header = build_header(job, coinbase, int(submit["ntime"], 16), int(submit["nonce"], 16), job.version)
    assert header.hex() == submit["header_hex"]
    assert hash_to_hex(sha256d(header)) == submit["hash_display"]


def test_encoders_write_the_wire_format_exactly() -> None:
    assert p.encode_result(4, True) == b'{"id": 4, "result": true, "error": null}\n'
    assert p.encode_error(4, 21, "Job not found") == b'{"id": 4, "result": null, "error": [21, "Job not found", null]}\n'
    assert p.encode_notification("mining.set_difficulty", [0.002]) == VECTOR["transcript"][30]["line"].encode() + b"\n"
    with pytest.raises(p.LocalProtocolError):
        p.encode_result(1, float("nan"))


def test_parse_message_reads_requests_and_responses() -> None:
    line = VECTOR["transcript"][6]["line"].encode()  # cpuminer's hand-formatted submit ('"id":4')
    message = p.parse_message(line)
    assert isinstance(message, p.Request) and message.id == 4 and message.method == "mining.submit"
    assert p.parse_message(b'{"id": 1, "result": true, "error": null}') == p.Response(1, True, None)
    assert p.parse_message(b'{"id": "a", "method": "m"}') == p.Request("a", "m", [])
    with pytest.raises(p.RemoteProtocolError) as info:
        p.parse_message(b'{"id": true, "method": "m"}')
    assert info.value.code == p.INVALID_REQUEST


def test_line_buffer_caps_lines_with_and_without_newline() -> None:
    buffer = p.LineBuffer(max_line=8)
    buffer.receive_data(b"12345678\n123456789\nok\n")
    assert buffer.next_line() == b"12345678"
    assert buffer.next_line() == p.LineTooLong(8)
    assert buffer.next_line() == b"ok"
    assert buffer.next_line() is p.NEED_DATA
    buffer.receive_data(b"x" * 20)
    assert buffer.next_line() == p.LineTooLong(8)
    buffer.receive_data(b"y" * 100)
    assert buffer.next_line() is p.NEED_DATA and buffer.buffered == 0
    buffer.receive_data(b"yy\nnext\n")
    assert buffer.next_line() == b"next"


def test_error_shapes_servers_use_are_all_understood() -> None:
    assert p.error_code_and_message(None) is None
    assert p.error_code_and_message([23, "Low difficulty share", None]) == (23, "Low difficulty share")
    assert p.error_code_and_message({"code": -1, "message": "x"}) == (-1, "x")
    assert p.error_code_and_message("boom") == (20, "boom")


PURE = ["p2pool/stratum/" + name for name in (
    "protocol.py", "session.py", "job.py", "vardiff.py", "difficulty.py", "stats.py", "submit.py", "provider.py")]


@pytest.mark.parametrize("path", PURE)
def test_cores_import_no_io(path: str) -> None:
    assert_pure([ROOT / path], IO | {"p2pool.stratum.server"})
