"""A pytest plugin that finds sockets left open: ``python -m pytest -p tests.socket_trace``.

With ``filterwarnings = error`` a socket nobody closed fails whichever test happens to be running
when the garbage collector reaches it, far from the code that leaked it. With this plugin each
socket remembers the test, the stack and the trio task chain that made it; one collected while
still open is closed and reported (to ``$SOCKET_TRACE_FILE``, default ``socket-trace.txt``) with
that record, instead of failing a test. Tracing slows socket creation; leave it off otherwise.
"""

from __future__ import annotations

import os
import socket
import traceback
from typing import Any

import trio

_made: dict[int, str] = {}
_original_init = socket.socket.__init__


def _await_chain(coro: Any) -> list[str]:
    lines = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            lines.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return lines


def _task_chain() -> list[str]:
    """What each trio task up the nursery tree is awaiting (a task's own stack stops at its start)."""
    try:
        task: trio.lowlevel.Task | None = trio.lowlevel.current_task()
    except RuntimeError:
        return []
    lines = []
    while task is not None:
        lines += [f"  task {task.name}", *_await_chain(task.coro)]
        task = task.parent_nursery.parent_task if task.parent_nursery is not None else None
    return lines


def _traced_init(self: socket.socket, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    test = os.environ.get("PYTEST_CURRENT_TEST", "(no test)")
    stack = "".join(traceback.format_stack(limit=12))
    _made[id(self)] = "\n".join([f"made in: {test}", *_task_chain(), stack])


def _report_if_open(self: socket.socket) -> None:
    made = _made.pop(id(self), "made: (before tracing)")
    if self.fileno() == -1:
        return
    with open(os.environ.get("SOCKET_TRACE_FILE", "socket-trace.txt"), "a") as out:
        out.write(f"=== left open: {self!r}\ncollected in: {os.environ.get('PYTEST_CURRENT_TEST')}\n{made}\n")
    self.close()


def pytest_configure() -> None:
    socket.socket.__init__ = _traced_init  # type: ignore[method-assign]
    socket.socket.__del__ = _report_if_open  # type: ignore[attr-defined]
