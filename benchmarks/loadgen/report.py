"""Figures of a load run: counts from the workers, latency percentiles, and new-work fan-out."""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field
from typing import Any

from benchmarks.loadgen.target import Event

_COUNTS = ("offered", "answered", "accepted", "timeouts", "late", "disconnects", "connect_failures",
           "connected", "ready", "unanswered")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass
class Totals:
    """The latest cumulative counts of each worker, summed, and every latency seen (to the answer's arrival at
    the miner's socket, and to the generator reading it)."""

    per_worker: dict[int, dict[str, Any]] = field(default_factory=dict)
    latencies: array = field(default_factory=lambda: array("d"))
    latencies_read: array = field(default_factory=lambda: array("d"))

    def update(self, worker: int, progress: dict[str, Any]) -> array:
        """Take one progress message; returns the (arrival) latencies it brought."""
        fresh = array("d")
        fresh.frombytes(progress["latencies"])
        self.latencies.extend(fresh)
        self.latencies_read.frombytes(progress.get("latencies_read", b""))
        self.per_worker[worker] = progress
        return fresh

    def count(self, name: str) -> int:
        return sum(int(p.get(name, 0)) for p in self.per_worker.values())

    def rejected(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for progress in self.per_worker.values():
            for code, n in progress["rejected"].items():
                out[code] = out.get(code, 0) + n
        return out

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for progress in self.per_worker.values():
            for reason, n in progress.get("reasons", {}).items():
                out[reason] = out.get(reason, 0) + n
        return out

    def counts(self) -> dict[str, int]:
        return {name: self.count(name) for name in _COUNTS}


@dataclass(frozen=True)
class FanOut:
    """How one new piece of work reached the connections."""

    event: Event
    connections: int
    reached: int
    first: float  # seconds from the event to the first connection's notify
    last: float  # ... to the last one's (of those reached)

    @property
    def complete(self) -> bool:
        return self.reached == self.connections


def fan_outs(events: list[Event], notifies: list[array], end: float) -> list[FanOut]:
    """For each event, when each connection got its first notify after it, before the next event or ``end``."""
    ordered = sorted(events, key=lambda e: e.time)
    out = []
    for i, event in enumerate(ordered):
        window_end = ordered[i + 1].time if i + 1 < len(ordered) else end
        delays = []
        for arrivals in notifies:
            at = bisect.bisect_left(arrivals, event.time)
            if at < len(arrivals) and arrivals[at] < window_end:
                delays.append(arrivals[at] - event.time)
        out.append(FanOut(event, len(notifies), len(delays), min(delays, default=0.0), max(delays, default=0.0)))
    return out


def _fan_out_figures(fans: list[FanOut]) -> dict[str, float]:
    complete = [f.last for f in fans if f.complete]
    return {"p50": percentile(complete, 0.5), "max": max(complete, default=0.0)}


def _latency_figures(latencies: list[float]) -> dict[str, float]:
    return {"p50": 1e3 * percentile(latencies, 0.5), "p99": 1e3 * percentile(latencies, 0.99),
            "max": 1e3 * max(latencies, default=0.0)}


def summary(totals: Totals, duration: float, fans: list[FanOut], rss: dict[str, float],
            load: list[float], fans_read: list[FanOut] | None = None) -> dict[str, Any]:
    """The run's figures as one dict (what is printed and what the suite's test checks). ``fans`` and
    ``latency_ms`` are from the arrivals at the miners' sockets; ``fans_read`` and ``latency_read_ms`` from
    when the generator read them."""
    latencies = list(totals.latencies)
    complete = [f for f in fans if f.complete]
    counts = totals.counts()
    return {
        **counts,
        "rejected": totals.rejected(),
        "reasons": totals.reasons(),
        "offered_per_s": counts["offered"] / duration,
        "answered_per_s": counts["answered"] / duration,
        "latency_ms": _latency_figures(latencies),
        "latency_read_ms": _latency_figures(list(totals.latencies_read)),
        "events": len(fans),
        "events_complete": len(complete),
        "fan_out_s": {"p50": percentile([f.last for f in complete], 0.5),
                      "max": max((f.last for f in complete), default=0.0),
                      "spread_max": max((f.last - f.first for f in complete), default=0.0)},
        "fan_out_read_s": _fan_out_figures(fans_read or []),
        "events_incomplete_reached": [f"{f.reached}/{f.connections}" for f in fans if not f.complete],
        "rss_mb": rss,
        "load": {"min": min(load, default=0.0), "max": max(load, default=0.0)},
    }


def print_summary(figures: dict[str, Any], miners: int, duration: float) -> None:
    lat, fan, rss = figures["latency_ms"], figures["fan_out_s"], figures["rss_mb"]
    print(f"\n== {miners} miners, {duration:g} s measured ==")
    print(f"submits offered {figures['offered']} ({figures['offered_per_s']:.0f}/s), answered "
          f"{figures['answered']} ({figures['answered_per_s']:.0f}/s), accepted {figures['accepted']}, "
          f"rejected {figures['rejected']}")
    if figures["reasons"]:
        print("refused: " + "; ".join(f"{n} {reason!r}" for reason, n in sorted(figures["reasons"].items(),
                                                                                 key=lambda item: -item[1])))
    print(f"timeouts {figures['timeouts']} (answered late {figures['late']}, never {figures['unanswered']}), "
          f"disconnects {figures['disconnects']}, connect failures {figures['connect_failures']}")
    read = figures["latency_read_ms"]
    print(f"submit latency (the answer at the miner's socket) p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, "
          f"max {lat['max']:.1f} ms; as the generator read it p50 {read['p50']:.1f} ms, p99 {read['p99']:.1f} ms, "
          f"max {read['max']:.1f} ms")
    print(f"new work: {figures['events']} events, {figures['events_complete']} reached every connection before "
          f"the next; fan-out to all p50 {fan['p50']:.3f} s, max {fan['max']:.3f} s, first-to-last spread max "
          f"{fan['spread_max']:.3f} s; incomplete {figures['events_incomplete_reached']} (at the miners' sockets; "
          f"as the generator read them p50 {figures['fan_out_read_s']['p50']:.3f} s, max "
          f"{figures['fan_out_read_s']['max']:.3f} s)")
    print(f"node RSS: ready {rss['ready']:.0f} MB, max {rss['max']:.0f} MB, end {rss['end']:.0f} MB; "
          f"load average (1 min) {figures['load']['min']:.2f}..{figures['load']['max']:.2f}")
    if "rss_parts_end" in figures:
        print(f"node RSS at the end by process (the node first, then its Stratum worker processes): "
              f"{figures['rss_parts_end']}")
    if figures.get("node_fan_out_s", {}).get("count"):
        walk = figures["node_fan_out_s"]
        print(f"the node's own fan-outs (its log, first to last write, {walk['count']} to 90 %+ of the miners): "
              f"p50 {walk['p50']:.3f} s, max {walk['max']:.3f} s")
    if "node_cpu_percent" in figures:
        print(f"CPU: node {figures['node_cpu_percent']:.0f} % of one core while measured; generator workers "
              f"{figures['generator_cpu_s']:.0f} s in all (from their start)")
