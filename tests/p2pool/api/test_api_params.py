"""The API's request bounds: query, path and body values read within their bounds or refused with where and
why (every problem at once), bounded parsing of numbers, and any text or bytes at all getting a defined
answer (hypothesis); then over real HTTP: 422 with the details, the token checked before the body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pool.api import AdminActions, ApiSources
from p2pool.api.admin import BAN, MINING_START
from p2pool.api.params import MAX_NUMBER_TEXT, Body, BodyField, Bounds, Invalid, Param
from tests.p2pool.api.apiserver import TOKEN, start_api

LIMIT = Param("limit", Bounds(int, minimum=1, maximum=500), 50)
STATUS = Param("status", Bounds(str, pattern="^(main|uncle|side|orphan)$"))


def problems(read: Any, *args: Any) -> list[tuple[str, str]]:
    with pytest.raises(Invalid) as caught:
        read(*args)
    return [(p.where, p.problem) for p in caught.value.problems]


def test_a_query_parameter_within_bounds_or_told_why() -> None:
    assert LIMIT.read({}) == 50 and LIMIT.read({"limit": "500"}) == 500 and LIMIT.read({"limit": " 7 "}) == 7
    assert problems(LIMIT.read, {"limit": "501"}) == [("query.limit", "must be at most 500")]
    assert problems(LIMIT.read, {"limit": "0"}) == [("query.limit", "must be at least 1")]
    assert problems(LIMIT.read, {"limit": "1.5"}) == [("query.limit", "must be an integer")]
    assert problems(LIMIT.read, {"limit": "9" * (MAX_NUMBER_TEXT + 1)}) == [
        ("query.limit", f"must be a number of at most {MAX_NUMBER_TEXT} characters")]
    assert STATUS.read({}) is None and STATUS.read({"status": "uncle"}) == "uncle"
    assert problems(STATUS.read, {"status": "uncles"}) == [("query.status", "must match ^(main|uncle|side|orphan)$")]
    path = Param("share_hash", Bounds(str, max_length=64), where="path")
    assert problems(path.read, {"share_hash": "a" * 65}) == [("path.share_hash", "must be at most 64 characters")]


def test_numbers_in_a_body_are_finite_of_their_kind_and_within_bounds() -> None:
    assert BAN.read(b'{"peer_id": "Qm", "duration": 600}') == {"peer_id": "Qm", "duration": 600.0,
                                                                  "reason": "banned by the operator"}
    assert problems(BAN.read, b'{"peer_id": "Qm", "duration": 0}') == [("body.duration", "must be more than 0")]
    for text in ("NaN", "Infinity", "-Infinity", "1e400"):
        assert problems(BAN.read, b'{"peer_id": "Qm", "duration": %s}' % text.encode()) == [
            ("body.duration", "must be a finite number")], text
    assert problems(BAN.read, b'{"peer_id": "Qm", "duration": true}') == [("body.duration", "must be a number")]
    assert problems(BAN.read, b'{"peer_id": "Qm", "duration": "5"}') == [("body.duration", "must be a number")]
    assert problems(MINING_START.read, b'{"threads": 2.0}') == [("body.threads", "must be an integer")]
    assert problems(MINING_START.read, b'{"threads": 0}') == [("body.threads", "must be at least 1")]
    huge = b'{"peer_id": "Qm", "duration": %s}' % (b"9" * 5000)  # past Python's 4,300-digit conversion limit
    assert problems(BAN.read, huge) == [("body", "not JSON")]


def test_a_body_names_every_problem_and_ignores_what_it_does_not_know() -> None:
    assert problems(BAN.read, b'{"duration": -1, "reason": 5}') == [
        ("body.peer_id", "missing"), ("body.duration", "must be more than 0"), ("body.reason", "must be a string")]
    assert BAN.read(b'{"peer_id": "Qm", "colour": "red"}')["peer_id"] == "Qm"
    assert problems(BAN.read, b"") == [("body", "missing: send a JSON object")]
    assert problems(BAN.read, b"[1, 2]") == [("body", "must be a JSON object")]
    assert problems(BAN.read, b"{" * 100_000) == [("body", "not JSON")]
    assert MINING_START.read(b"") == MINING_START.read(b"null") == MINING_START.read(b"{}") == {"threads": None}
    assert MINING_START.read(b'{"threads": null}') == {"threads": None}


def test_the_description_of_a_body_says_its_bounds() -> None:
    schema = BAN.schema()
    assert schema["required"] == ["peer_id"]
    assert schema["properties"]["duration"] == {"type": "number", "exclusiveMinimum": 0, "maximum": 10 * 365 * 86400,
                                                "default": 86400.0, "description": "seconds"}
    assert MINING_START.schema()["properties"]["threads"]["anyOf"][1] == {"type": "null"}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_for_a_number_or_a_string_is_read_or_refused(text: str) -> None:
    for param in (LIMIT, STATUS, Param("f", Bounds(float, above=0, maximum=10))):
        try:
            value = param.read({param.name: text})
        except Invalid as exc:
            assert exc.problems and exc.problems[0].where == f"query.{param.name}"
        else:
            assert param.bounds.check(value) == value


ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                          children, max_size=4),
                        max_leaves=12)
SOME_BODY = Body("Some", (BodyField("n", Bounds(int, minimum=-5, maximum=5)),
                          BodyField("x", Bounds(float, above=0), 1.0),
                          BodyField("s", Bounds(str, min_length=1, max_length=3, nullable=True), None)))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=64),
                 ANY_JSON.map(lambda v: json.dumps(v).encode()),
                 st.fixed_dictionaries({}, optional={"n": ANY_JSON, "x": ANY_JSON, "s": ANY_JSON}).map(
                     lambda v: json.dumps(v).encode())))
def test_any_bytes_as_a_body_are_read_within_bounds_or_refused(data: bytes) -> None:
    try:
        values = SOME_BODY.read(data)
    except Invalid as exc:
        assert exc.problems and all(p.where == "body" or p.where.startswith("body.") for p in exc.problems)
    else:
        assert isinstance(values["n"], int) and not isinstance(values["n"], bool) and -5 <= values["n"] <= 5
        assert isinstance(values["x"], float) and values["x"] > 0
        assert values["s"] is None or 1 <= len(values["s"]) <= 3


async def test_over_http_a_malformed_request_is_422_with_every_problem(nursery: trio.Nursery, tmp_path: Path) -> None:
    banned: list[tuple[str, float, str]] = []

    async def ban(peer: str, seconds: float, reason: str) -> tuple[bool, str]:
        banned.append((peer, seconds, reason))
        return True, "banned"

    sources = ApiSources(status=dict, problems=list, metrics=bytes, admin=AdminActions(ban=ban))
    url = await start_api(nursery, sources, tmp_path)
    auth = {"authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url) as client:
        query = await client.get("/api/shares?limit=0&status=x&cursor=" + "c" * 201)
        body = await client.post("/api/peers/ban", content=b'{"duration": %s}' % (b"9" * 60_000), headers=auth)
        fields = await client.post("/api/peers/ban", json={"peer_id": "", "duration": 1e9}, headers=auth)
        unauthorised = await client.post("/api/peers/ban", content=b"not json")
        good = await client.post("/api/peers/ban", json={"peer_id": "QmPeer", "duration": 60}, headers=auth)
    assert query.status_code == 422 and query.json()["error"] == "invalid request"
    assert [d["where"] for d in query.json()["details"]] == ["query.limit", "query.cursor", "query.status"]
    assert (body.status_code, body.json()["details"]) == (422, [{"where": "body", "problem": "not JSON"}])
    assert fields.status_code == 422 and fields.json()["details"] == [
        {"where": "body.peer_id", "problem": "must not be empty"},
        {"where": "body.duration", "problem": "must be at most 315360000"}]
    assert unauthorised.status_code == 401
    assert good.json() == {"ok": True, "message": "banned"}
    assert banned == [("QmPeer", 60.0, "banned by the operator")]
