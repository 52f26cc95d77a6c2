"""A join's share-checking process: a real child process giving the verdicts the node would reach,
in turn for batches sent at once, and nothing at all (the node checks itself) once it is gone."""

from __future__ import annotations

import logging

import pytest
import trio

from p2pool.p2p.share_checker import CheckProcess
from sharechain.validation import StandaloneVerdict, check_bytes
from tests.sharechain.miner import TEST_PARAMS
from tests.sharechain.test_validation import chain_of, without_pow


@pytest.fixture(scope="module")
def raws() -> list[bytes]:
    _, shares = chain_of(6)
    return [s.raw for s in shares] + [without_pow(shares[-1]).raw, shares[0].raw[:-3]]


async def test_verdicts_are_the_nodes_own_and_come_back_in_turn(raws: list[bytes]) -> None:
    expected = [check_bytes(raw, TEST_PARAMS) for raw in raws]
    assert isinstance(expected[-2], StandaloneVerdict) and expected[-2].rejection is not None
    assert isinstance(expected[-1], str)  # truncated: malformed
    batches = [tuple(raws[i:]) for i in range(len(raws))]
    got: dict[int, object] = {}
    async with CheckProcess(TEST_PARAMS) as checker:

        async def check(number: int) -> None:
            got[number] = await checker.check(batches[number])

        async with trio.open_nursery() as nursery:  # all sent before the first is answered
            for number in range(len(batches)):
                nursery.start_soon(check, number)
        assert checker.checked == sum(len(b) for b in batches) and not checker.broken
        process = checker._process
        assert process is not None
    assert process.returncode == 0  # it stopped at the end of its input
    for number, batch in enumerate(batches):
        assert got[number] == expected[number:], number
        assert len(batch) == len(expected[number:])


async def test_a_process_gone_means_no_verdicts_and_a_warning(raws: list[bytes],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    async with CheckProcess(TEST_PARAMS) as checker:
        assert await checker.check(tuple(raws[:2])) is not None
        assert checker._process is not None
        checker._process.kill()
        await checker._process.wait()
        with caplog.at_level(logging.WARNING, logger="otedama.p2p.join"):
            assert await checker.check(tuple(raws[:2])) is None
        assert checker.broken
        assert await checker.check(tuple(raws[:2])) is None
    assert "share-checking process not used" in caplog.text


async def test_a_check_cancelled_half_way_stops_the_use_of_the_process(raws: list[bytes]) -> None:
    async with CheckProcess(TEST_PARAMS) as checker:
        with trio.move_on_after(0):  # cancelled before it sent anything: the process is still in step
            await checker.check(tuple(raws))
        assert not checker.broken and await checker.check(tuple(raws[:1])) == [check_bytes(raws[0], TEST_PARAMS)]
        waiting: list[object] = []

        async def second() -> None:
            waiting.append(await checker.check(tuple(raws[:1])))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(checker.check, tuple(raws) * 50)
            nursery.start_soon(second)
            while checker._tickets < 3:  # both sent, neither answered
                await trio.lowlevel.checkpoint()
            nursery.cancel_scope.cancel()
        assert checker.broken  # its answer would be read by the next check as its own
        assert await checker.check(tuple(raws[:1])) is None
