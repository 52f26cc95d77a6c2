"""Run a few GIL-releasing calls at once on plain threads, and split ranges among them."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def split_range(start: int, count: int, parts: int, min_part: int) -> list[tuple[int, int]]:
    """``[start, start+count)`` as at most ``parts`` consecutive (start, count) pieces of >= min_part each."""
    parts = max(1, min(parts, count // max(1, min_part)))
    size, extra = divmod(count, parts)
    pieces = []
    for i in range(parts):
        n = size + (1 if i < extra else 0)
        pieces.append((start, n))
        start += n
    return pieces


def run_all(calls: list[Callable[[], T]], workers: int | None = None) -> list[T]:
    """Results of ``calls`` in order, run on up to ``workers`` threads (default: one per call).

    With more calls than workers, each worker takes the next call when it is done, so a core slowed
    by other work ends up doing less. The calls are expected to spend their time in code that releases
    the GIL (``nogil`` kernels, OpenCL waits); the first exception among them is raised here.
    """
    workers = len(calls) if workers is None else min(workers, len(calls))
    if workers <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kernel") as pool:
        return list(pool.map(_call, calls))


def _call(call: Callable[[], T]) -> T:
    return call()
