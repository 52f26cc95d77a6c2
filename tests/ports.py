"""Ports for test servers that must be named before they start (a child process's command line, a node
restarted on the same port).

Asking the kernel for port 0 and closing the socket leaves a window in which any other process may take
that port: a listener of another pytest-xdist worker binding port 0, or an outgoing connection's
ephemeral port, both drawn from the same range (seen: a restarted peer lost its P2P port this way,
"Address already in use"). So the ports come from below the kernel's ephemeral range, where neither
kind is drawn, in a slice of their own for each xdist worker, each handed out once per process and
checked to be free (on 127.0.0.1) before it is.
"""

from __future__ import annotations

import itertools
import os
import socket

_FIRST, _SLICE = 20_000, 1_500  # eight slices: 20,000-31,999, below Linux's default 32,768-60,999


def _worker() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) % 8 if name[2:].isdigit() else 0


def _candidates() -> itertools.cycle[int]:
    start = _FIRST + _worker() * _SLICE
    # Start at a place of this process's own in the slice: runs one after the other do not retry the
    # ports the last one left in TIME_WAIT.
    offset = os.getpid() % _SLICE
    return itertools.cycle([start + (offset + i) % _SLICE for i in range(_SLICE)])


_ports = _candidates()


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port free on 127.0.0.1 now and not handed out before by this process (until the slice wraps)."""
    for _ in range(_SLICE):
        port = next(_ports)
        if _is_free(port):
            return port
    raise RuntimeError(f"no free port in {_FIRST + _worker() * _SLICE}-{_FIRST + (_worker() + 1) * _SLICE - 1}")
