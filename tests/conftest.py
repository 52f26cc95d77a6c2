"""Long tests first, and a watchdog on every trio test: one stuck past :data:`WATCHDOG_S` fails with trio's task tree printed.

pytest-timeout (300 s, ``pyproject.toml``) interrupts the event loop from a signal handler: the test
fails without saying which task waited on what, and trio's run state can leak into the next test
("Attempted to call run() from inside a run()"). The watchdog fires first, inside trio: it prints
every task with the frames it awaits in, then raises, so trio cancels the test and unwinds cleanly.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

WATCHDOG_S = float(os.environ.get("OTEDAMA_WATCHDOG_S", "240"))


class WatchdogTimeout(Exception):
    """A trio test ran past the watchdog; its task tree was printed to stderr."""


def task_tree() -> str:
    """Every trio task of the current run, indented under its parent, each with its await frames."""
    lines: list[str] = []

    def walk(task: trio.lowlevel.Task, depth: int) -> None:
        frames = [f"{frame.f_code.co_filename.rsplit('/site-packages/', 1)[-1]}:{lineno} {frame.f_code.co_name}"
                  for frame, lineno in task.iter_await_frames()]
        lines.append(f"{'  ' * depth}{task.name}")
        lines.extend(f"{'  ' * depth}  | {frame}" for frame in frames)
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child, depth + 1)

    root = trio.lowlevel.current_root_task()
    if root is not None:
        walk(root, 0)
    return "\n".join(lines)


def _with_watchdog(test: Callable[..., Awaitable[Any]], seconds: float = WATCHDOG_S) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(test)  # the same signature: pytest still sees the test's fixtures
    async def watched(*args: Any, **kwargs: Any) -> Any:
        test_scope, watch_scope = trio.CancelScope(), trio.CancelScope()

        async def watch() -> None:
            with watch_scope:
                await trio.sleep(seconds)
                print(f"\n===== trio watchdog: {test.__name__} ran past {seconds:.0f} s; its tasks =====\n"
                      f"{task_tree()}\n", file=sys.stderr, flush=True)
                test_scope.cancel()

        trio.lowlevel.spawn_system_task(watch)
        try:
            with test_scope:
                return await test(*args, **kwargs)
        finally:
            watch_scope.cancel()
        raise WatchdogTimeout(f"{test.__name__} ran past {seconds:.0f} s (its task tree is on stderr)")

    return watched


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The long tests first (a stable sort keeps the rest in order): with several workers (pytest-xdist,
    # ``scripts/check.sh``) they overlap the many short ones instead of ending the run alone.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    for item in items:
        function = getattr(item, "obj", None)
        if (isinstance(item, pytest.Function) and inspect.iscoroutinefunction(function)
                and not hasattr(function, "hypothesis")):  # pytest-trio unwraps hypothesis tests itself
            marker = item.get_closest_marker("watchdog")
            item.obj = _with_watchdog(function, float(marker.args[0]) if marker else WATCHDOG_S)
