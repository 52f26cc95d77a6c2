"""Numbers from a stranger are refused by size before any arithmetic (issue #10's frozen node)."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
import trio
from stratum_vector import LineClient, VectorProvider, vector_job

from p2pool.stratum.server import StratumConfig, StratumServer
from sharechain.bitcoin.stratum import codec as p
from sharechain.bitcoin.stratum.difficulty import MAX_WIRE, MIN_WIRE, from_wire


@pytest.mark.parametrize("value", ["1e-10000000", "1e-20000000", "1e10000000", "1" * 8000, "0." + "0" * 8000 + "1",
                                   "1e1000", " 1e-31", "0x10", "1_000", "nan", "inf", "", "+", "1e", "--1"])
def test_bad_or_oversized_strings_are_refused_with_a_short_message(value: str) -> None:
    with pytest.raises(ValueError) as info:
        from_wire(value)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("value", [10**31, -1, 0, 0.0, -0.5, 1e-31, 1e31, float("inf"), float("nan"), True, None, [1]])
def test_out_of_range_and_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        from_wire(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("0.001", Fraction(1, 1000)), (0.001, Fraction(1, 1000)), ("1e-30", MIN_WIRE), (10**30, MAX_WIRE),
    ("+2.5E3", Fraction(2500)), (".5", Fraction(1, 2)), ("7.", Fraction(7)), (3, Fraction(3)),
])
def test_decimals_in_range_parse_exactly(value: object, expected: Fraction) -> None:
    assert from_wire(value) == expected


@pytest.mark.parametrize("number", ["1" + "0" * 5000, "-" + "9" * 41, "0." + "1" * 100, "1" * 70 + ".5e3"])
def test_long_json_numbers_are_a_parse_error_that_names_the_limit(number: str) -> None:
    line = f'{{"id": 1, "method": "mining.suggest_difficulty", "params": [{number}]}}'.encode()
    with pytest.raises(p.RemoteProtocolError) as info:
        p.parse_message(line)
    assert info.value.code == p.PARSE_ERROR and "limit" in info.value.message
    assert "set_int_max_str_digits" not in info.value.message


def test_ordinary_numbers_still_parse() -> None:
    message = p.parse_message(json.dumps({"id": 12345678901234567890, "method": "m", "params": [0.5, -3, 1e-9]}).encode())
    assert isinstance(message, p.Request) and message.params == [0.5, -3, 1e-9]


async def test_a_huge_exponent_over_tcp_is_refused_and_others_are_served() -> None:
    """The issue's attack: before subscribing, one connection sends 1e-20000000 (22.8 s of arithmetic
    before the fix, every other miner waiting), then an 8 KB decimal string."""
    server = StratumServer(VectorProvider(vector_job("job1")), StratumConfig(host="127.0.0.1", port=0))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve)
        hostile, miner = await LineClient.connect(port), await LineClient.connect(port)
        for n, value in enumerate(["1e-20000000", "1e-10000000", "9" * 8000]):
            answer = await hostile.call({"id": n, "method": "mining.suggest_difficulty", "params": [value]})
            assert answer["result"] is None and answer["error"][0] == 20 and len(answer["error"][1]) < 200
        assert (await miner.call({"id": 1, "method": "mining.subscribe", "params": []}))["error"] is None
        assert (await hostile.call({"id": 9, "method": "mining.suggest_difficulty", "params": [0.5]}))["result"] is True
        await hostile.aclose()
        await miner.aclose()
        nursery.cancel_scope.cancel()
