"""Stratum load: N miners on real TCP, each with its own payout address, submitting every 3 s.

Usage:
  .venv/bin/python benchmarks/stratum_load.py --miners 1000 [--duration 60] [--workers 2]
  .venv/bin/python benchmarks/stratum_load.py --soak 600               # 1,000 miners, RSS at 1 vs 10 min
  .venv/bin/python benchmarks/stratum_load.py --attach 127.0.0.1:3333 --pid PID [--node-log FILE]

It starts the node itself (``python -m p2pool run --network devnet --no-p2p --no-miner`` with a
fresh datadir, Stratum difficulty ``--difficulty``) unless told to attach, then runs ``--workers``
processes of asyncio connections (the node is one process; the generator's are others). Each miner
subscribes, authorizes with its own bcrt1q address and, once all are connected, submits every
``--interval`` seconds (each at its own phase) on its latest job with a nonce ground to meet its
difficulty, so the node checks and accepts real work. A finder process submits a real share every
``--tip-interval`` seconds: a new share tip, so every miner gets new work, and the node's log says
when. Printed every ``--sample`` seconds and at the end, with the node's RSS and the load average:
submits offered/s and answered/s, timeouts, disconnects, latency p50/p99/max, and the fan-out
(from the node logging the new tip to the first and the last connection receiving its notify).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from array import array
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from benchmarks.loadgen import finder, worker
from benchmarks.loadgen.config import LoadConfig
from benchmarks.loadgen.report import Totals, fan_outs, percentile, print_summary, summary
from benchmarks.loadgen.target import Event, Target, fan_out_walks, load_average

_FINDER_MINER = 900_000


def raise_open_files() -> int:
    """Soft open-file limit up to the hard one (inherited by the workers and a node started here)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Run:
    """One load run against ``target``: workers, the finder, sampling, and the final figures."""

    def __init__(self, config: LoadConfig, target: Target, soak: bool = False) -> None:
        self.config, self.target, self.soak = config, target, soak
        self.totals = Totals()
        self.ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[Any] = []
        self.finder_pipe: Connection | None = None
        self.events: list[Event] = []
        self.fired: list[float] = []
        self.finals: dict[int, dict[str, Any]] = {}
        self.rss: dict[str, float] = {}
        self.rss_parts = ""
        self.load: list[float] = []

    def start(self) -> None:
        for index in range(self.config.workers):
            ours, theirs = self.ctx.Pipe()
            process = self.ctx.Process(target=worker.main, args=(self.config, index, theirs), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)
        if self.config.tip_interval > 0:
            ours, theirs = self.ctx.Pipe()
            address = worker.miner_address(_FINDER_MINER + self.config.first_miner)
            process = self.ctx.Process(target=finder.main, args=(self.config.host, self.config.port, address, theirs),
                                       daemon=True)
            process.start()
            self.finder_pipe = ours
            self.processes.append(process)

    def _poll(self, timeout: float) -> list[float]:
        """Take messages from the workers and the finder; the latencies they brought."""
        fresh: list[float] = []
        pipes = [p for i, p in enumerate(self.pipes) if i not in self.finals]  # a worker exits after its final
        pipes += [self.finder_pipe] if self.finder_pipe is not None else []
        if not pipes:
            return fresh
        for pipe in wait(pipes, timeout):
            assert isinstance(pipe, Connection)
            try:
                kind, *body = pipe.recv()
            except EOFError:
                if pipe is self.finder_pipe:
                    self.finder_pipe = None
                    continue
                raise RuntimeError("a worker process died") from None
            if kind == "fired":
                self.fired.append(body[0])
                self._fire_pending = False
                continue
            index = self.pipes.index(pipe)
            fresh += self.totals.update(index, body[0])
            if kind == "final":
                self.finals[index] = body[0]
        return fresh

    def ramp(self) -> None:
        started = time.monotonic()
        next_print = started
        while time.monotonic() - started < self.config.ramp_timeout:
            self._poll(0.5)
            counts = self.totals.counts()
            settled = counts["ready"] + counts["connect_failures"] + counts["disconnects"]
            if time.monotonic() >= next_print or settled >= self.config.miners:
                print(f"ramp {time.monotonic() - started:5.1f} s: {counts['connected']} connected, {counts['ready']} "
                      f"with a job, {counts['connect_failures']} failed, node RSS {self.target.rss_mb():.0f} MB, "
                      f"load {load_average():.2f}", flush=True)
                next_print += self.config.sample
            if settled >= self.config.miners:
                return
            if not self.target.alive():
                raise RuntimeError("the node exited during the ramp")

    def measure(self) -> tuple[float, float]:
        """Submit for ``duration`` seconds; the wall-clock start and stop."""
        config = self.config
        self.rss["ready"] = self.target.rss_mb()
        self.target.skip_log()
        for pipe in self.pipes:
            pipe.send(("measure",))
        start = time.time()
        self.node_cpu = -self.target.cpu_seconds()
        next_sample, next_fire = start + config.sample, start + min(2.0, config.tip_interval)
        self._fire_pending = False
        window: list[float] = []
        last = self.totals.counts()
        while (now := time.time()) < start + config.duration:
            window += self._poll(0.2)
            self.events += self.target.new_events()
            if self.finder_pipe is not None and now >= next_fire and not self._fire_pending:
                self.finder_pipe.send(("fire",))
                self._fire_pending = True
                next_fire = now + config.tip_interval
            if now >= next_sample:
                last = self._sample(now - start, window, last)
                window, next_sample = [], next_sample + config.sample
            if self.soak and "1min" not in self.rss and now - start >= 60:
                self.rss["1min"] = self.target.rss_mb()
            if not self.target.alive():
                raise RuntimeError("the node exited during the run")
        self.node_cpu += self.target.cpu_seconds()
        return start, time.time()

    def _sample(self, elapsed: float, window: list[float], last: dict[str, int]) -> dict[str, int]:
        counts = self.totals.counts()
        rss, load = self.target.rss_mb(), load_average()
        self.rss["max"] = max(self.rss.get("max", 0.0), rss)
        self.load.append(load)
        span = self.config.sample
        print(f"{elapsed:6.1f} s: {counts['connected']} conns, offered {(counts['offered'] - last['offered']) / span:.0f}/s,"
              f" answered {(counts['answered'] - last['answered']) / span:.0f}/s, p50 {1e3 * percentile(window, .5):.1f}"
              f" ms, p99 {1e3 * percentile(window, .99):.1f} ms, timeouts {counts['timeouts']}, disconnects "
              f"{counts['disconnects']}, new work {len(self.events)}, node RSS {rss:.0f} MB, load {load:.2f}", flush=True)
        return counts

    def finish(self, start: float, stop: float) -> dict[str, Any]:
        for pipe in self.pipes:
            pipe.send(("stop",))
        deadline = time.monotonic() + self.config.timeout + 60
        while len(self.finals) < len(self.pipes) and time.monotonic() < deadline:
            self._poll(0.5)
        end = time.time()
        self.rss["end"] = self.target.rss_mb()
        self.rss.setdefault("max", self.rss["end"])
        self.rss_parts = self.target.rss_parts()
        self.events += self.target.new_events()
        events = [e for e in self.events if start <= e.time <= stop]
        if self.target.log_path is None:
            events = [Event(t, "tip") for t in self.fired if start <= t <= stop]
        notifies, notifies_read = self._notifies("notifies"), self._notifies("notifies_read")
        self.load.append(load_average())
        figures = summary(self.totals, stop - start, fan_outs(events, notifies, end), self.rss, self.load,
                          fan_outs(events, notifies_read, end))
        figures["shares_fired"] = len(self.fired)
        figures["rss_parts_end"] = self.rss_parts
        figures["node_cpu_percent"] = 100 * self.node_cpu / (stop - start)
        figures["generator_cpu_s"] = sum(f.get("cpu", 0.0) for f in self.finals.values())
        # the node's own time for each fan-out to (nearly) every connection, first to last write
        walks = [seconds for at, jobs, seconds in fan_out_walks(self.target.sent)
                 if start <= at <= stop and jobs >= 0.9 * self.config.miners]
        figures["node_fan_out_s"] = {"count": len(walks), "p50": percentile(walks, 0.5), "max": max(walks, default=0.0)}
        if self.soak and "1min" in self.rss:
            figures["soak_rss_growth"] = self.rss["end"] / self.rss["1min"] - 1
        return figures

    def _notifies(self, name: str) -> list[array]:
        """Each connection's notify times of the kind ``name``, from the workers' final reports."""
        out = []
        for final in self.finals.values():
            for raw in final.get(name, []):
                times = array("d")
                times.frombytes(raw)
                out.append(times)
        return out

    def close(self) -> None:
        if self.finder_pipe is not None:
            with contextlib.suppress(OSError):
                self.finder_pipe.send(("quit",))
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def run(config: LoadConfig, target: Target, soak: bool = False) -> dict[str, Any]:
    """The whole run against a node already up; returns the figures."""
    load = Run(config, target, soak)
    try:
        load.start()
        load.ramp()
        start, stop = load.measure()
        return load.finish(start, stop)
    finally:
        load.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--miners", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=0, help="generator processes (default: one per 2,500 miners)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured after the ramp")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between one miner's submits")
    parser.add_argument("--timeout", type=float, default=10.0, help="a submit unanswered this long is a timeout")
    parser.add_argument("--tip-interval", type=float, default=10.0, help="seconds between found shares (0: none)")
    parser.add_argument("--difficulty", type=float, default=1e-9, help="the node's Stratum difficulty")
    parser.add_argument("--connect-rate", type=float, default=1_000.0, help="connections opened per second")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between printed samples")
    parser.add_argument("--soak", type=float, default=0.0, metavar="SECONDS",
                        help="soak: run this long (1,000 miners unless --miners) and compare RSS at 1 min and the end")
    parser.add_argument("--attach", metavar="HOST:PORT", help="use a running node instead of starting one")
    parser.add_argument("--pid", type=int, help="with --attach: the node's process id (for RSS)")
    parser.add_argument("--node-log", type=Path, help="with --attach: the node's log (for the moments of new tips)")
    parser.add_argument("--node-log-level", default="info", choices=["debug", "info", "warning"])
    parser.add_argument("--p2p", action="store_true",
                        help="start the node with P2P on (listening on 127.0.0.1, no peers): its RSS with libp2p loaded")
    parser.add_argument("--generator-nice", type=int, default=0, metavar="N",
                        help="run the generator's processes at this niceness (they stand for miners on other machines)")
    parser.add_argument("--split-cores", action="store_true",
                        help="the node on the first CPU, the generator on the others (standing for miners on other "
                             "machines: they take no CPU from the node, and unlike --generator-nice it is not starved)")
    parser.add_argument("--stratum-processes", type=int, default=1,
                        help="the node's --stratum-processes (its Stratum worker processes; RSS and CPU are summed)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    duration, sample = (args.soak, max(args.sample, 30.0)) if args.soak else (args.duration, args.sample)
    workers = args.workers or max(1, min(8, -(-args.miners // 2_500)))
    print(f"open-file limit {raise_open_files()}; {args.miners} miners on {workers} worker processes, "
          f"load average {load_average():.2f}", flush=True)
    cpus = sorted(os.sched_getaffinity(0))
    if args.split_cores:
        if len(cpus) < 2 or args.attach:
            parser.error("--split-cores needs two CPUs or more, and a node it starts")
        os.sched_setaffinity(0, cpus[:1])  # what starts now (the node and its threads and processes) inherits it
    datadir = None
    if args.attach:
        host, _, port = args.attach.rpartition(":")
        if args.pid is None:
            parser.error("--attach needs --pid")
        target = Target.attach(host or "127.0.0.1", int(port), args.pid, args.node_log)
    else:
        datadir = Path(tempfile.mkdtemp(prefix="otedama-load-"))
        target = Target.start(datadir / "node", args.difficulty, args.interval, args.node_log_level, p2p=args.p2p,
                              processes=args.stratum_processes)
    print(f"node pid {target.pid} on {target.host}:{target.port}, its open-file limit {target.open_files_limit()}",
          flush=True)
    if args.split_cores:
        os.sched_setaffinity(0, cpus[1:])  # the generator's processes, started next
        print(f"the node on CPU {cpus[0]}, the generator on CPU {', '.join(map(str, cpus[1:]))}", flush=True)
    config = LoadConfig(host=target.host, port=target.port, miners=args.miners, workers=workers, duration=duration,
                        interval=args.interval, timeout=args.timeout, connect_rate=args.connect_rate,
                        tip_interval=args.tip_interval, sample=sample, nice=args.generator_nice)
    try:
        figures = run(config, target, soak=bool(args.soak))
        print_summary(figures, args.miners, duration)
        if "soak_rss_growth" in figures:
            print(f"soak: RSS {figures['rss_mb']['1min']:.0f} MB after 1 min, {figures['rss_mb']['end']:.0f} MB after "
                  f"{duration:g} s ({100 * figures['soak_rss_growth']:+.1f} %; target within 10 %)")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        stopped = target.stop()
        if target.process is not None:
            print("node stopped on SIGTERM in " + (f"{stopped:.1f} s" if stopped is not None else "more than 120 s: killed"))
        if datadir is not None:
            shutil.rmtree(datadir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
