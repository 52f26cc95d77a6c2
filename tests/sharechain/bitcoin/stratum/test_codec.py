"""The Stratum v1 codec against the cpuminer session vector: exact bytes, framing limits, error shapes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharechain.bitcoin.stratum import codec as p
from sharechain.bitcoin.stratum.work import swap_words
from tests.p2pool.stratum.stratum_vector import VECTOR, vector_job


def test_prevhash_word_swap_matches_the_observed_rule() -> None:
    job = vector_job("job1")
    assert swap_words(job.prev_hash).hex() == VECTOR["jobs"]["job1"]["params"][1]
    assert swap_words(swap_words(job.prev_hash)) == job.prev_hash
    with pytest.raises(ValueError):
        swap_words(b"abc")


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


@given(st.one_of(st.integers(-(10**40), 10**40), st.text(max_size=20), st.none()), st.one_of(st.booleans(), st.none()))
def test_a_result_line_is_what_json_writes(request_id, result) -> None:
    """The accepted-submit answer is written without json.dumps; the bytes are the same."""
    expected = (json.dumps({"id": request_id, "result": result, "error": None}) + "\n").encode()
    assert p.encode_result(request_id, result) == expected
