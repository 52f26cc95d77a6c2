"""Hostile strangers at full size against a node process, and a well-behaved miner's answers meanwhile.

  .venv/bin/python benchmarks/stratum_hostile.py [--connections 5000] [--workers 100000] [--only NAME ...]

It starts ``python -m p2pool run --network devnet --no-p2p --no-miner`` with a fresh datadir and the
default limits (auth timeout 30 s, 256 workers a connection, 256 connections an IP, 100 submits/s,
100 strikes to a ban), connects a well-behaved miner from 127.0.0.1 that asks
``mining.extranonce.subscribe`` every 10 ms, and runs each attack in a child process of its own from
other loopback addresses (127.0.0.2 and up: the connection attacks spread over enough of them to stay
under the per-IP cap). Per attack it prints the well-behaved miner's p50/p99/max answer latency, what
the attacker saw, the node's RSS, the largest and slowest /api/status (polled every 2 s during the
attack, as a dashboard would) and the load average. Attacks:

- ``huge-exponent``: ``mining.suggest_difficulty`` with 1e-10000000, 1e-20000000, 1e+10000000 and 8 KB
  decimals, before any subscribe;
- ``worker-flood``: one connection authorizes ``--workers`` names;
- ``never-authorize``: ``--connections`` connections that never say a thing, until the node's sweeper
  closes them (the 30 s deadline);
- ``mass-close``: ``--connections`` authorized miners, then all closed at once (figures for the close);
- ``submit-flood``: one connection sends ``--submits`` submits of real work (ground beforehand, so no
  strikes) as fast as it can: only the submit rate refuses them;
- ``invalid-work``: submits of invalid work until the ban, a reconnect, then the node restarted and the
  banned address tried again;
- ``ban-flood``: ``--ban-addresses`` addresses (127.1.0.0 and up) at once, each with invalid work until it
  is banned, while the node's Stratum ban list is full (10,000 bans of other addresses for 8 minutes,
  written into the datadir before the node starts when this attack is run): every ban rewrites that list.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import trio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.hostile import attacks  # noqa: E402
from benchmarks.loadgen.worker import miner_address  # noqa: E402
from tests.functional.framework import NodeProcess  # noqa: E402

ATTACKS = ("huge-exponent", "worker-flood", "never-authorize", "mass-close", "submit-flood", "invalid-work",
           "ban-flood")
FULL_BAN_LIST = 10_000
HOST = "127.0.0.1"
USER = miner_address(7)
PER_IP = 200  # connections opened from one attacker address (under the node's cap of 256)


def attacker_addresses(connections: int) -> list[str]:
    count = max(1, -(-connections // PER_IP))
    return [f"127.0.{(i + 2) // 256}.{(i + 2) % 256}" for i in range(count)]


# -- the attacker: a child process, one attack, its phases on stdout -----------------------------------

async def run_attack(name: str, port: int, size: int) -> None:
    marks: dict[str, list[float]] = {}

    def mark(phase: str, start: float) -> None:
        marks[phase] = [start, time.monotonic()]

    started = time.monotonic()
    if name == "huge-exponent":
        detail = await attacks.huge_exponent(HOST, port, "127.0.0.2", rounds=size)
    elif name == "worker-flood":
        detail = await attacks.worker_flood(HOST, port, "127.0.0.2", USER, size)
    elif name == "never-authorize":
        async with attacks.idle_connections(HOST, port, size, attacker_addresses(size)) as opened:
            mark("open", started)
            waited = time.monotonic()
            closed = await attacks.wait_closed_by_server(opened, 120)
            mark("held and swept", waited)
        detail = f"{closed} of {size} closed by the node {marks['held and swept'][1] - started:.1f} s after the first"
    elif name == "mass-close":
        opened = await attacks.authorized_connections(HOST, port, size, attacker_addresses(size), USER)
        mark("open and authorize", started)
        await trio.sleep(3)
        closing = time.monotonic()
        await attacks.close_all(opened)
        await trio.sleep(5)
        mark("close", closing)
        detail = f"{size} authorized, closed at once"
    elif name == "submit-flood":
        detail = await attacks.work_flood(HOST, port, "127.0.0.2", USER, size)
    elif name == "invalid-work":
        detail = await attacks.invalid_work(HOST, port, "127.0.0.3", USER, size)
    elif name == "ban-flood":
        detail = await attacks.ban_flood(HOST, port, [f"127.1.{i // 256}.{i % 256}" for i in range(size)], USER, 1_000)
    else:
        raise SystemExit(f"no attack {name!r}")
    marks.setdefault("attack", [started, time.monotonic()])
    print(json.dumps({"detail": detail, "phases": marks}), flush=True)


# -- the parent: node, well-behaved miner, one child per attack ---------------------------------------

class Timed(attacks.Probe):
    """The probe, each answer with when it came (monotonic), so phases of an attack can be told apart."""

    stamps: list[tuple[float, float]]

    async def ask(self) -> float:
        took = await super().ask()
        self.stamps.append((time.monotonic(), took))
        return took


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def status_bytes(node: NodeProcess) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{node.api_port}/api/status", timeout=30) as reply:
        return len(reply.read())


async def one_attack(name: str, size: int, node: NodeProcess, probe: Timed) -> dict[str, object]:
    assert node.process is not None
    rss_before = rss_mb(node.process.pid)
    probe.stamps = []
    status: list[tuple[int, float]] = []  # (bytes, seconds) of /api/status every 2 s during the attack

    async def poll_status() -> None:
        while True:
            started = time.monotonic()
            size = await trio.to_thread.run_sync(status_bytes, node)
            status.append((size, time.monotonic() - started))
            await trio.sleep(2)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(probe.run, 0.01)
        nursery.start_soon(poll_status)
        child = await trio.run_process([sys.executable, "-m", "benchmarks.stratum_hostile", "--attack", name,
                                        "--port", str(node.stratum_port), "--size", str(size)],
                                       capture_stdout=True, cwd=REPO)
        nursery.cancel_scope.cancel()
    report = json.loads(child.stdout.decode().strip().splitlines()[-1])
    load = os.getloadavg()
    rows = {}
    for phase, (start, end) in report["phases"].items():
        during = [took for at, took in probe.stamps if start <= at <= end + 0.5]
        rows[phase] = attacks.figures(f"{name}: {phase}", during or [0.0])
    figures = {"attack": name, "size": size, "detail": report["detail"], "rss_before_mb": round(rss_before, 1),
               "rss_after_mb": round(rss_mb(node.process.pid), 1),
               "status_max_bytes": max(size for size, _ in status), "status_max_s": round(max(t for _, t in status), 3),
               "load": [round(x, 2) for x in load],
               "phases": {k: {"count": f.count, "p50_ms": round(f.p50 * 1000, 1), "p99_ms": round(f.p99 * 1000, 1),
                              "max_ms": round(f.max * 1000, 1)} for k, f in rows.items()}}
    for f in rows.values():
        print(f.line())
    print(f"  {report['detail']}; node RSS {figures['rss_before_mb']} -> {figures['rss_after_mb']} MB, "
          f"/api/status at most {figures['status_max_bytes']} bytes, {figures['status_max_s']} s; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    return figures


def fill_stratum_bans(datadir: Path, count: int) -> None:
    """A Stratum ban list of ``count`` bans of other addresses (10.x.y.z), in force for 8 minutes: sooner
    over than the node's new bans (10 minutes), so a full list makes room for those by dropping these."""
    until = time.time() + 480
    bans = [{"peer": f"10.{i // 65_536}.{i // 256 % 256}.{i % 256}", "until": until + i / 1000,
             "reason": "100 submits of invalid work"} for i in range(count)]
    datadir.mkdir(parents=True, exist_ok=True)
    (datadir / "stratum-bans.json").write_text(json.dumps({"format": "otedama-banlist", "version": 1, "bans": bans}))


def start_node(datadir: Path) -> NodeProcess:
    node = NodeProcess(datadir, "--network", "devnet", "--no-p2p", "--no-miner", "--stratum-difficulty", "1e-9",
                       "--log-level", "warning", name="node")
    return node.start()


async def bench(args: argparse.Namespace) -> list[dict[str, object]]:
    sizes = {"huge-exponent": 20, "worker-flood": args.workers, "never-authorize": args.connections,
             "mass-close": args.connections, "submit-flood": args.submits, "invalid-work": 1_000,
             "ban-flood": args.ban_addresses}
    results = []
    with tempfile.TemporaryDirectory(prefix="otedama-hostile-") as tmp:
        datadir = Path(tmp) / "node"
        if "ban-flood" in (args.only or ATTACKS):
            fill_stratum_bans(datadir, FULL_BAN_LIST)
        node = start_node(datadir)
        try:
            probe = await Timed.connect(HOST, node.stratum_port, USER + ".honest")
            for name in args.only or ATTACKS:
                results.append(await one_attack(name, sizes[name], node, probe))  # noqa: PERF401  (in turn)
            if "invalid-work" in (args.only or ATTACKS):
                node.stop()
                node = start_node(datadir)
                told = await attacks.refusal(HOST, node.stratum_port, "127.0.0.3")
                print(f"after a restart, 127.0.0.3 is told: {told!r}", flush=True)
                results.append({"attack": "invalid-work after restart", "told": told})
        finally:
            if node.process is not None and node.process.poll() is None:
                node.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--submits", type=int, default=200_000)
    parser.add_argument("--ban-addresses", type=int, default=200, help="addresses banned at once in ban-flood")
    parser.add_argument("--only", nargs="*", choices=ATTACKS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--attack", choices=ATTACKS, help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.attack:
        trio.run(run_attack, args.attack, args.port, args.size)
        return 0
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores", flush=True)
    results = trio.run(bench, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
