"""Range splitting and the thread runner behind the multi-core scans."""

from __future__ import annotations

import functools
import itertools
import threading

import pytest

from kernels.parallel import cpu_count, run_all, split_range


def test_split_covers_the_range_in_order() -> None:
    pieces = split_range(10, 1003, 4, 100)
    assert len(pieces) == 4
    assert pieces[0][0] == 10 and sum(n for _, n in pieces) == 1003
    assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(pieces))
    assert max(n for _, n in pieces) - min(n for _, n in pieces) <= 1


def test_split_keeps_small_ranges_whole() -> None:
    assert split_range(5, 150, 8, 100) == [(5, 150)]
    assert split_range(5, 0, 8, 100) == [(5, 0)]
    assert len(split_range(0, 1000, 8, 100)) == 8
    assert len(split_range(0, 1000, 16, 100)) == 10


def test_run_all_keeps_order_and_uses_threads() -> None:
    seen: set[int] = set()
    pair = threading.Barrier(2, timeout=30)  # each call waits for another one running at the same time

    def call(i: int, meet: bool = True) -> int:
        seen.add(threading.get_ident())
        if meet:
            pair.wait()
        return i * i

    assert run_all([functools.partial(call, i) for i in range(6)]) == [i * i for i in range(6)]
    assert len(seen) >= 2
    seen.clear()
    assert run_all([functools.partial(call, i) for i in range(20)], workers=2) == [i * i for i in range(20)]
    assert len(seen) == 2
    seen.clear()
    assert run_all([functools.partial(call, i, False) for i in range(3)], workers=1) == [0, 1, 4]
    assert seen == {threading.get_ident()}
    assert run_all([]) == []


def test_run_all_raises_a_workers_error() -> None:
    def boom() -> int:
        raise ArithmeticError("worker failed")

    with pytest.raises(ArithmeticError, match="worker failed"):
        run_all([lambda: 1, boom])
    assert cpu_count() >= 1
