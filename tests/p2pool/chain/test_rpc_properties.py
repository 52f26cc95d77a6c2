"""Property-based: bitcoind replies of any shape, and getblocktemplate results mutated from real
Bitcoin Core and SV replies, end in a result or a defined error, never an exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pool.chain.backend import ChainUnavailable, RpcError
from tests.fixtures.fuzz_rpc import check_reply, check_template, one_input
from tests.fixtures.vectors import vector

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=15,
)
statuses = st.sampled_from([200, 401, 403, 404, 500, 502])


def _templates() -> list[dict[str, Any]]:
    return [vector("core-regtest-gbt-segwit.json")["result"], vector("bsv-regtest-gbt.json")["result"]]


@st.composite
def mutated_templates(draw: st.DrawFn) -> dict[str, Any]:
    """A real template with a few fields (top level or in a transaction) replaced, removed or added."""
    template = draw(st.sampled_from(_templates()))
    for _ in range(draw(st.integers(1, 3))):
        target = template
        entries = [t for t in template.get("transactions", []) if isinstance(t, dict)] \
            if isinstance(template.get("transactions"), list) else []
        into_a_transaction = draw(st.booleans())
        if entries and into_a_transaction:
            target = draw(st.sampled_from(entries))
        key = draw(st.one_of(st.sampled_from(sorted(target)), st.text(max_size=8)))
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(st.one_of(json_values, st.text("0123456789abcdef", max_size=80)))
    return template


@FAST
@given(statuses, st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda r, e, i: json.dumps({"result": r, "error": e, "id": i}).encode(), json_values, json_values,
              json_values),
    st.builds(lambda c, m: json.dumps({"result": None, "error": {"code": c, "message": m}}).encode(), json_values,
              json_values),
    st.integers(1, 3_000).map(lambda n: b"[" * n + b"]" * n),
))
def test_any_reply_gives_a_result_or_a_defined_error(status: int, content: bytes) -> None:
    check_reply(status, content)


@FAST
@given(mutated_templates())
def test_mutated_real_templates_parse_or_give_a_template_error(template: dict[str, Any]) -> None:
    check_template(template)


@FAST
@given(json_values)
def test_any_json_value_as_a_template(value: object) -> None:
    check_template(value)


@FAST
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    one_input(data)


def test_the_known_bad_reply_shapes_are_defined_errors() -> None:
    assert isinstance(check_reply(500, b'{"result": null, "error": {"code": [1], "message": "x"}}'), RpcError)
    assert isinstance(check_reply(200, b"[" * 100_000), ChainUnavailable)
    assert isinstance(check_reply(200, b'{"result": NaN, "error": null}'), ChainUnavailable)
    assert all(check_template(t) is not None for t in _templates())
