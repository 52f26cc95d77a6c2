"""The node under test: started as its own process (devnet, no P2P, no built-in miner) or attached to.

Also what is read from outside it: its resident memory (``/proc/PID/status``), the machine's load
average, and the moments its log says a new share tip or block arrived (the start of a fan-out).
"""

from __future__ import annotations

import datetime
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.functional.framework import NodeProcess, wait_until

_TIP = re.compile(rb"^(\d\d):(\d\d):(\d\d)\.(\d{3}) INFO +otedama\.intake: share [0-9a-f]{16} from .+? accepted at height "
                  rb"(\d+)")
_BLOCK = re.compile(rb"^(\d\d):(\d\d):(\d\d)\.(\d{3}) INFO +otedama\.blocks: BLOCK FOUND")
_SENT = re.compile(rb"^(\d\d):(\d\d):(\d\d)\.(\d{3}) INFO +\S+: stratum: new work sent to (\d+) of \d+ connections "
                   rb"in ([0-9.]+) s")


@dataclass(frozen=True)
class Event:
    """New work for every miner: ``kind`` 'tip' (a share extending the sharechain) or 'block'."""

    time: float
    kind: str


class Target:
    """Where the node listens, its pid, and (when known) its log."""

    def __init__(self, host: str, port: int, pid: int, log_path: Path | None,
                 process: NodeProcess | None = None) -> None:
        self.host, self.port, self.pid, self.log_path, self.process = host, port, pid, log_path, process
        self._log_offset = 0
        self._best_height = -1
        # The node's own fan-outs, as it logs them: (wall time logged, jobs sent, seconds first to last write).
        self.sent: list[tuple[float, int, float]] = []

    @classmethod
    def start(cls, datadir: Path, difficulty: float, interval: float, log_level: str, p2p: bool = False,
              processes: int = 1) -> Target:
        """``python -m p2pool run --network devnet --no-p2p --no-miner`` with its own datadir and ports
        (``p2p``: without ``--no-p2p``, listening for peers on 127.0.0.1 and knowing none; ``processes``: its
        ``--stratum-processes``)."""
        datadir.mkdir(parents=True, exist_ok=True)
        config = datadir.parent / f"{datadir.name}.toml"
        # Vardiff aims at the generator's submit interval, so it leaves the tiny difficulty alone.
        # Every generated miner connects from 127.0.0.1: no per-IP cap for it (stratum_max_per_ip is 256).
        config.write_text(f"stratum_submit_interval = {interval}\nstratum_allow = [\"127.0.0.0/8\"]\n")
        node = NodeProcess(datadir, "--network", "devnet", *([] if p2p else ["--no-p2p"]), "--no-miner",
                           "--stratum-processes", str(processes), "--stratum-difficulty",
                           repr(difficulty), "--config", str(config), "--log-level", log_level, name="node")
        node.start()
        assert node.process is not None
        wait_until(lambda: _listening("127.0.0.1", node.stratum_port), 60, "the node's Stratum port")
        return cls("127.0.0.1", node.stratum_port, node.process.pid, node.log_path, node)

    @classmethod
    def attach(cls, host: str, port: int, pid: int, log_path: Path | None) -> Target:
        if not Path(f"/proc/{pid}/status").exists():
            raise ValueError(f"no process {pid}")
        if not _listening(host, port):
            raise ValueError(f"nothing listens on {host}:{port}")
        return cls(host, port, pid, log_path)

    def stop(self, timeout: float = 120.0) -> float | None:
        """SIGTERM a node started here; seconds until it exited (None: killed after ``timeout``)."""
        if self.process is None or self.process.process is None:
            return None
        process = self.process.process
        started = time.monotonic()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                return None
        return time.monotonic() - started

    def alive(self) -> bool:
        return Path(f"/proc/{self.pid}/status").exists()

    def pids(self) -> list[int]:
        """The node process and its children (its Stratum worker processes, if any)."""
        return [self.pid, *_children(self.pid)]

    def rss_mb(self) -> float:
        """Resident memory of the node process and its worker processes in MB (VmRSS summed), 0 once gone."""
        return sum(_status_kb(pid, "VmRSS:") for pid in self.pids()) / 1024

    def rss_parts(self) -> str:
        """Each process's resident memory, and their proportional share summed (Pss: pages they share counted
        once), when the node has worker processes."""
        pids = self.pids()
        parts = " + ".join(f"{_status_kb(pid, 'VmRSS:') / 1024:.0f}" for pid in pids)
        pss = sum(_pss_kb(pid) for pid in pids) / 1024
        return f"{parts} MB (Pss {pss:.0f} MB)"

    def cpu_seconds(self) -> float:
        """User + system CPU time the node process and its worker processes have used so far (/proc/PID/stat)."""
        total = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def open_files_limit(self) -> str:
        try:
            for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
                if line.startswith("Max open files"):
                    return " ".join(line.split()[3:5])
        except OSError:
            pass
        return "?"

    def skip_log(self) -> None:
        """Ignore what the log holds so far (events before the measurement)."""
        self.new_events()

    def new_events(self) -> list[Event]:
        """Tips and blocks logged since the last call: a tip is a share higher than any before."""
        if self.log_path is None:
            return []
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                data = log.read()
        except OSError:
            return []
        complete = data.rfind(b"\n") + 1
        self._log_offset += complete
        events = []
        for line in data[:complete].splitlines():
            if (tip := _TIP.match(line)) is not None:
                height = int(tip.group(5))
                if height > self._best_height:
                    self._best_height = height
                    events.append(Event(_wall(tip), "tip"))
            elif (block := _BLOCK.match(line)) is not None:
                events.append(Event(_wall(block), "block"))
            elif (sent := _SENT.match(line)) is not None:
                self.sent.append((_wall(sent), int(sent.group(5)), float(sent.group(6))))
        return events


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(out)


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def fan_out_walks(sent: list[tuple[float, int, float]], gap: float = 0.2) -> list[tuple[float, int, float]]:
    """The node's fan-outs as its processes log them, one each (logged at, jobs, first to last write): the
    lines of worker processes whose walks started within ``gap`` seconds of each other are one fan-out, from
    the first start to the last end, their jobs summed."""
    walks: list[tuple[float, int, float]] = []
    group: list[tuple[float, int, float]] = []
    for at, jobs, seconds in sorted(sent, key=lambda entry: entry[0] - entry[2]):
        if group and (at - seconds) - (group[0][0] - group[0][2]) > gap:
            walks.append(_merged(group))
            group = []
        group.append((at, jobs, seconds))
    if group:
        walks.append(_merged(group))
    return walks


def _merged(group: list[tuple[float, int, float]]) -> tuple[float, int, float]:
    first = min(at - seconds for at, _, seconds in group)
    last = max(at for at, _, _ in group)
    return last, sum(jobs for _, jobs, _ in group), last - first


def load_average() -> float:
    return os.getloadavg()[0]


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _wall(match: re.Match[bytes]) -> float:
    """A log timestamp (local HH:MM:SS.mmm of today) as wall-clock seconds."""
    hours, minutes, seconds, millis = (int(g) for g in match.groups()[:4])
    today = datetime.datetime.now().replace(hour=hours, minute=minutes, second=seconds, microsecond=millis * 1000)
    stamp = today.timestamp()
    return stamp - 86_400 if stamp > time.time() + 3_600 else stamp
