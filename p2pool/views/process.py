"""This process's own resources, for ``/api/health/detailed``: CPU time, memory, open files and sockets."""

from __future__ import annotations

import os
import resource
from pathlib import Path


def process_usage(uptime: float) -> dict[str, float | int | None]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    return {"cpu_seconds": round(cpu, 3), "cpu_percent": round(100 * cpu / uptime, 1) if uptime > 0 else None,
            "memory_rss_bytes": _rss() or usage.ru_maxrss * 1024, "open_files": _count_fds()[0],
            "open_sockets": _count_fds()[1], "threads": _threads()}


def _rss() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _count_fds() -> tuple[int | None, int | None]:
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None, None
    sockets = 0
    for name in names:
        try:
            sockets += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
        except OSError:
            continue
    return len(names), sockets


def _threads() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None
