"""Every submit decision and every malformed-input answer of the pure server session."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

from stratum_vector import EXTRANONCE1, USER, VECTOR, VectorProvider, easy_job, grind, lines
from test_stratum_session import EASY, call, error_of, make_session, ready, share, submit_line

from p2pool.stratum.job import build_coinbase, build_header
from p2pool.stratum.session import Session
from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target


def test_accepted_share_reaches_the_node_with_its_header() -> None:
    session = ready()
    nonce, _ = share(session, "e1")
    out = session.receive_data(json.dumps(submit_line("e1", nonce)).encode() + b"\n", 2.0)
    assert lines(out.data) == [{"id": 4, "result": True, "error": None}]
    (solution,) = out.solutions
    assert solution.nonce == nonce and solution.header[76:] == nonce.to_bytes(4, "little")
    assert solution.extranonce1 == EXTRANONCE1 and solution.worker == USER


def test_not_subscribed_is_25() -> None:
    session = make_session(easy_job("e1", EASY))
    assert error_of(call(session, submit_line("e1", 0)))[:2] == [25, "Not subscribed"]


def test_unauthorized_worker_is_24() -> None:
    session = ready()
    assert error_of(call(session, submit_line("e1", 0, worker=USER + ".other")))[:2] == [24, "Unauthorized worker"]
    fresh = make_session(easy_job("e1", EASY))
    call(fresh, {"id": 1, "method": "mining.subscribe", "params": []})
    assert error_of(call(fresh, submit_line("e1", 0)))[0] == 24


def test_unknown_and_stale_jobs_are_21() -> None:
    session = ready()
    nonce, _ = share(session, "e1")
    assert error_of(call(session, submit_line("nope", nonce)))[:2] == [21, "Job not found"]
    provider = session._source
    assert isinstance(provider, VectorProvider)
    # a non-clean notify keeps the old job valid
    provider.job = easy_job("e2", EASY)
    session.new_work(clean=False, now=2.0)
    assert {sent.wire_id for sent in session.jobs} == {"e1", "e2"}
    assert call(session, submit_line("e1", nonce))[0]["result"] is True
    # a clean notify makes everything before it stale
    provider.job = easy_job("e3", EASY)
    notify = lines(session.new_work(clean=True, now=3.0))
    assert notify[-1]["params"][0] == "e3" and notify[-1]["params"][8] is True
    nonce2, _ = share(session, "e3")
    assert error_of(call(session, submit_line("e2", nonce2)))[:2] == [21, "Job not found"]


def test_duplicate_is_22_and_not_handed_to_the_node_twice() -> None:
    session = ready()
    nonce, _ = share(session, "e1")
    first = session.receive_data(json.dumps(submit_line("e1", nonce)).encode() + b"\n", 1.0)
    again = session.receive_data(json.dumps(submit_line("e1", nonce, request_id=5)).encode() + b"\n", 1.0)
    assert len(first.solutions) == 1 and again.solutions == ()
    assert lines(again.data) == [{"id": 5, "result": None, "error": [22, "Duplicate share", None]}]


def test_low_difficulty_is_23() -> None:
    # the vector's job1 shares under difficulty 0.002, sent to a session whose job1 carries 0.002
    session = make_session(easy_job("job1", Fraction(1)), Fraction("0.002"))
    call(session, {"id": 1, "method": "mining.subscribe", "params": []})
    call(session, {"id": 2, "method": "mining.authorize", "params": [USER, "x"]})
    for submit in VECTOR["submits"]:
        if submit["job_id"] != "job1":
            continue
        line = json.dumps({"id": 4, "method": "mining.submit",
                           "params": [USER, "job1", submit["extranonce2"], submit["ntime"], submit["nonce"]]})
        (answer,) = lines(session.receive_data(line.encode() + b"\n", 1.0).data)
        if submit["meets_difficulty_0.002"]:
            assert answer["result"] is True
        else:
            assert answer["error"][0] == 23 and answer["error"][1].startswith("Low difficulty share")


def test_a_lowered_difficulty_counts_for_jobs_sent_before_it() -> None:
    """cgminer applies set_difficulty at once: shares meeting the new, lower difficulty are accepted."""
    session = ready(easy_job("e1", Fraction(1)), difficulty=Fraction("0.00001"))
    assert session.sent_job("e1").difficulty == Fraction("0.00001")
    header76 = build_header(session.sent_job("e1").job, build_coinbase(session.sent_job("e1").job, EXTRANONCE1, bytes(4)),
                            session.sent_job("e1").job.ntime, 0, session.sent_job("e1").job.version)[:76]
    nonce = -1
    while True:  # a share of difficulty 0.000001 that is not one of 0.00001
        nonce = grind(header76, difficulty_to_target(EASY), start=nonce + 1)
        if hash_to_int(sha256d(header76 + nonce.to_bytes(4, "little"))) > difficulty_to_target(Fraction("0.00001")):
            break
    assert error_of(call(session, submit_line("e1", nonce)))[0] == 23
    (_, announce) = call(session, {"id": 3, "method": "mining.suggest_difficulty", "params": [0.000001]})
    assert announce["params"] == [1e-06]
    assert call(session, submit_line("e1", nonce))[0]["result"] is True


def test_bad_ntime_extranonce2_and_hex_are_20() -> None:
    session = ready()
    job = session.sent_job("e1").job
    nonce, _ = share(session, "e1")
    cases = {
        "below min_ntime": submit_line("e1", nonce, ntime=f"{job.min_ntime - 1:08x}"),
        "above max_ntime": submit_line("e1", nonce, ntime=f"{job.max_ntime + 1:08x}"),
        "extranonce2 size": submit_line("e1", nonce, extranonce2="000000"),
        "extranonce2 hex": submit_line("e1", nonce, extranonce2="0000zz00"),
        "extranonce2 spaces": submit_line("e1", nonce, extranonce2="00 00 00"),
        "nonce hex": {"id": 4, "method": "mining.submit", "params": [USER, "e1", "00000000", f"{job.ntime:08x}", "xyz"]},
        "param count": {"id": 4, "method": "mining.submit", "params": [USER, "e1", "00000000"]},
        "param type": {"id": 4, "method": "mining.submit", "params": [USER, 7, "00000000", "0", "0"]},
    }
    for name, request in cases.items():
        answer = call(session, request)
        assert error_of(answer)[0] == 20, name
    assert call(session, submit_line("e1", nonce))[0]["result"] is True


def test_ntime_more_than_two_hours_from_the_job_is_20() -> None:
    base = easy_job("e1", EASY)
    wide = dataclasses.replace(base, base=dataclasses.replace(base.base, min_ntime=0, max_ntime=0xFFFFFFFF))
    session = ready(wide)
    error = error_of(call(session, submit_line("e1", 0, ntime=f"{base.ntime + 7201:08x}")))
    assert error[0] == 20 and "7200" in str(error[1])


def test_no_work_answers_miners_to_wait() -> None:
    session = ready(easy_job("e1", EASY))
    provider = session._source
    assert isinstance(provider, VectorProvider)
    provider.job = None
    assert session.new_work(clean=True, now=1.0) == b""
    error = error_of(call(session, submit_line("e1", 0)))
    assert error[0] == 20 and "No work" in str(error[1])
    provider.job = easy_job("e2", EASY)
    notify = lines(session.new_work(clean=False, now=2.0))
    assert notify[-1]["params"][0] == "e2" and notify[-1]["params"][8] is True


def test_unchanged_work_is_not_sent_again() -> None:
    session = ready()
    assert session.new_work(clean=False, now=1.0) == b""
    assert lines(session.new_work(clean=True, now=1.0))[-1]["params"][0] == "e1.1"


# -- malformed input ---------------------------------------------------------------------------


def _still_works(session: Session) -> None:
    assert call(session, {"id": 99, "method": "mining.extranonce.subscribe", "params": []}) == [
        {"id": 99, "result": True, "error": None}]


def test_malformed_lines_each_get_an_error_and_the_session_keeps_working() -> None:
    session = ready()
    cases: list[tuple[bytes, int, object]] = [
        (b"this is not json", -32700, None),
        (b"\xff\xfe", -32700, None),
        (b"[1, 2, 3]", -32600, None),
        (b'{"id": [1], "method": "mining.subscribe"}', -32600, None),
        (b'{"id": 5, "method": 12}', -32600, 5),
        (b'{"id": 6, "method": "mining.subscribe", "params": "x"}', -32600, 6),
        (b'{"id": 7}', -32600, 7),
        (b'{"id": 8, "method": "mining.frobnicate", "params": []}', -32601, 8),
        (b'{"id": 9, "method": "mining.authorize", "params": [42]}', 20, 9),
        (b'{"id": 10, "method": "mining.configure", "params": ["x"]}', 20, 10),
        (b'{"id": 11, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "zz"}]}',
         20, 11),
        (b'{"id": 12, "method": "mining.suggest_difficulty", "params": ["NaN"]}', 20, 12),
        (b'{"id": 13, "method": "mining.submit", "params": NaN}', -32700, None),
        (b"[" * 5000 + b"]" * 5000, -32700, None),
    ]
    for line, code, request_id in cases:
        out = session.receive_data(line + b"\n", 1.0)
        (answer,) = lines(out.data)
        assert answer["id"] == request_id and answer["result"] is None, line[:40]
        assert answer["error"][0] == code, line[:40]
        assert not out.close
        _still_works(session)
    assert session.protocol_errors == len(cases)


def test_oversized_line_is_answered_and_dropped_then_the_next_line_works() -> None:
    session = make_session(easy_job("e1", EASY), max_line=1024)
    huge = b'{"id": 1, "method": "mining.subscribe", "params": ["' + b"a" * 5000 + b'"]}\n'
    out = session.receive_data(huge[:2000], 1.0)  # no newline yet: refused as soon as it passes the cap
    assert lines(out.data)[0]["error"][0] == -32700 and "too long" in lines(out.data)[0]["error"][1]
    assert session.receive_data(huge[2000:], 1.0).data == b""  # the rest of that line is dropped
    _still_works(session)


def test_lines_split_anywhere_and_crlf_are_fine() -> None:
    session = make_session(easy_job("e1", EASY))
    data = b'{"id": 1, "method": "mining.subscribe", "params": []}\r\n\n{"id": 2, "method": "mining.extranonce.subscribe"}\n'
    produced = b"".join(session.receive_data(data[i : i + 1], 1.0).data for i in range(len(data)))
    assert [m["id"] for m in lines(produced)] == [1, 2]


def test_a_flood_of_garbage_closes_the_connection() -> None:
    session = make_session(easy_job("e1", EASY), max_protocol_errors=20)
    out = session.receive_data(b"garbage\n" * 25, 1.0)
    answers = lines(out.data)
    assert out.close and len(answers) == 21
    assert "Too many" in answers[-1]["error"][1]
