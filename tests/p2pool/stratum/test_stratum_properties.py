"""Property-based: whatever a miner sends, a Session answers each line or closes with a reason.

Lines are drawn from the methods a miner calls with parameters of every shape (numbers of any size,
strings, nesting), from raw bytes, and cut into arbitrary chunks. The oracle is in
tests/fixtures/fuzz_stratum.py (also behind the atheris target in benchmarks/fuzz).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.fuzz_stratum import ADDRESS, JOB, MAX_LINE, NTIME, check_session, one_input

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(
    st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.decimals(allow_nan=False, allow_infinity=False)
    .map(str), st.from_regex(r"[+-]?\d{1,6}(\.\d{0,6})?([eE][+-]?\d{1,9})?", fullmatch=True),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12,
)
hex8 = st.one_of(st.integers(0, 2**32 - 1).map(lambda n: f"{n:08x}"), st.text("0123456789abcdefABCDEFxg", max_size=10))
ids = st.one_of(st.none(), st.integers(), st.text(max_size=12), json_values)
submit = st.tuples(st.sampled_from([ADDRESS, ADDRESS + ".w", "nobody"]), st.sampled_from([JOB.job_id, "zz", ""]),
                   hex8, st.one_of(st.just(f"{NTIME:08x}"), hex8), hex8, st.one_of(st.just(None), hex8))
requests = st.one_of(
    st.builds(lambda i: {"id": i, "method": "mining.subscribe", "params": []}, ids),
    st.builds(lambda i, u: {"id": i, "method": "mining.authorize", "params": [u, "x"]}, ids,
              st.one_of(st.just(ADDRESS), st.just(ADDRESS + ".rig1"), st.text(max_size=300), json_values)),
    st.builds(lambda i, d: {"id": i, "method": "mining.suggest_difficulty", "params": [d]}, ids,
              st.one_of(numbers, json_values)),
    st.builds(lambda i, m: {"id": i, "method": "mining.configure",
                            "params": [["version-rolling", "minimum-difficulty"], {"version-rolling.mask": m}]},
              ids, st.one_of(hex8, json_values)),
    st.builds(lambda i, s: {"id": i, "method": "mining.submit", "params": [v for v in s if v is not None]}, ids, submit),
    st.builds(lambda i, m, ps: {"id": i, "method": m, "params": ps}, ids, st.text(max_size=30), json_values),
    st.dictionaries(st.sampled_from(["id", "method", "params", "result", "error"]), json_values, max_size=5),
)
lines = st.one_of(requests.map(lambda r: json.dumps(r).encode()), st.binary(max_size=80),
                  st.integers(MAX_LINE - 2, MAX_LINE + 40).map(lambda n: b"x" * n))


@st.composite
def streams(draw: st.DrawFn) -> list[bytes]:
    """Lines joined by newlines (sometimes \\r\\n or blank ones), then cut at arbitrary points."""
    body = b"".join(line + draw(st.sampled_from([b"\n", b"\r\n", b"\n\n"])) for line in draw(st.lists(lines, max_size=25)))
    body += draw(st.binary(max_size=20))
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=8)))
    return [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]


@FAST
@given(streams(), st.booleans(), st.sampled_from([0, 2, 3]))
def test_every_line_gets_a_defined_answer(chunks: list[bytes], work: bool, new_work_every: int) -> None:
    check_session(chunks, work=work, new_work_every=new_work_every)


@FAST
@given(st.binary(max_size=2_000))
def test_raw_bytes_get_a_defined_answer(data: bytes) -> None:
    one_input(data)


@FAST
@given(st.lists(submit, min_size=1, max_size=30))
def test_a_subscribed_miner_submitting_anything(submits: list[tuple]) -> None:
    hello = [{"id": 1, "method": "mining.subscribe", "params": []}, {"id": 2, "method": "mining.authorize",
             "params": [ADDRESS, "x"]}, {"id": 3, "method": "mining.configure",
             "params": [["version-rolling"], {"version-rolling.mask": "1fffe000"}]}]
    calls = hello + [{"id": 10 + n, "method": "mining.submit", "params": [v for v in s if v is not None]}
                     for n, s in enumerate(submits)]
    session = check_session([json.dumps(c).encode() + b"\n" for c in calls], new_work_every=7)
    assert session.mining
