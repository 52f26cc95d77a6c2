"""SHA-256d kernel figures: nonce-scan hashes/s per implementation and verify_headers headers/s.

Usage: .venv/bin/python benchmarks/kernels.py [--seconds 3]

Prints, in one run: the hashlib loop, Numba on 1 thread and on all cores, OpenCL on each device
present (and on all of them together when there are several), each as hashes/s and as a ratio to
the hashlib loop; then verify_headers in headers/s per kind. Each figure is the best of three
timed runs of about --seconds each, so a busy machine shows less than its real speed, not more.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernels import Scanner, available_kinds, make_scanner, verify_headers
from kernels.parallel import cpu_count

HEADER76 = bytes.fromhex(
    "0100000081cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000e320b6c2fffc8d750423db8b1eb942ae"
    "710e951ed797f7affc8892b0f1fc122bc7f5d74df2b9441a"
)  # block 125552 without its nonce
TARGET = (1 << 224) - 1  # difficulty ~1: the kernels' fast path, almost no candidates to confirm
RUNS = 3


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def best_rate(step: Callable[[], int], seconds: float) -> float:
    """Best of RUNS: items per second of ``step`` (which returns items done) repeated for ``seconds``."""
    return max(timed_run(step, seconds)[0] for _ in range(RUNS))


def timed_run(step: Callable[[], int], seconds: float) -> tuple[float, float]:
    """Items per wall-clock second, and per CPU second of this thread, over one run."""
    done, began, cpu = 0, time.perf_counter(), time.thread_time()
    while (elapsed := time.perf_counter() - began) < seconds:
        done += step()
    return done / elapsed, done / max(time.thread_time() - cpu, 1e-9)


def scan_rate(scanner: Scanner, chunk: int, seconds: float) -> float:
    return scan_rates(scanner, chunk, seconds)[0]


def scan_rates(scanner: Scanner, chunk: int, seconds: float) -> tuple[float, float]:
    """Best wall-clock and best own-CPU-time hashes/s (the latter meaningful for one-thread scans)."""
    nonce = 0

    def step() -> int:
        nonlocal nonce
        if nonce + chunk > 1 << 32:
            nonce = 0
        result = scanner.scan(HEADER76, TARGET, nonce, chunk)
        nonce += chunk
        return result.hashes_done

    runs = [timed_run(step, seconds) for _ in range(RUNS)]
    return max(wall for wall, _ in runs), max(cpu for _, cpu in runs)


def timed(make: Callable[[], Scanner]) -> tuple[Scanner, float]:
    """A scanner and the seconds its construction plus first small scan took (imports, compile/load)."""
    began = time.perf_counter()
    scanner = make()
    scanner.scan(HEADER76, TARGET, 0, 64)
    return scanner, time.perf_counter() - began


def scan_section(seconds: float) -> None:
    kinds = available_kinds()
    print(f"\nnonce scan (target 2**224-1, best of {RUNS} x {seconds:g} s)")
    base, base_cpu = scan_rates(make_scanner("hashlib"), 1 << 14, seconds)
    row("hashlib loop (1 thread)", base, base, base_cpu)
    if "numba" in kinds:
        one, start = timed(lambda: make_scanner("numba", threads=1))
        print(f"  (numba start: imports + load or compile of the kernels: {start:.2f} s)")
        wall, cpu = scan_rates(one, 1 << 21, seconds)
        row("numba, 1 thread", wall, base, cpu)
        row(f"numba, {cpu_count()} threads", scan_rate(make_scanner("numba"), 1 << 22, seconds), base)
    if "opencl" in kinds:
        from kernels.opencl import OpenCLScanner

        first, start = timed(OpenCLScanner)
        print(f"  (opencl start: platform, program build or cache load: {start:.2f} s)")
        for i, name in enumerate(first.device_names):
            row(f"opencl, {name}", scan_rate(OpenCLScanner([i]), 1 << 24, seconds), base)
        if len(first.device_names) > 1:
            row("opencl, all devices", scan_rate(first, 1 << 26, seconds), base)


def verify_section(seconds: float) -> None:
    rng = random.Random(1)
    n = 1 << 18
    headers = rng.randbytes(80 * n)
    targets = [rng.getrandbits(256) for _ in range(n)]
    print(f"\nverify_headers (batches of {n} random headers, Python conversion included)")
    for kind in available_kinds():
        size = n if kind != "hashlib" else 1 << 14
        batch = headers[: 80 * size]
        batch_targets = targets[:size]

        def step(batch: bytes = batch, batch_targets: list[int] = batch_targets, kind: str = kind) -> int:
            return len(verify_headers(batch, batch_targets, kind))

        step()  # warm-up: compile or cache load
        rate = best_rate(step, seconds)
        print(f"  {kind:<30} {rate / 1e6:8.2f} M headers/s")


def row(label: str, rate: float, base: float, cpu_rate: float | None = None) -> None:
    """One line; ``cpu_rate`` (per CPU second of the scanning thread) shows a one-thread speed that
    other processes on the machine cannot lower."""
    extra = f"  ({cpu_rate / 1e6:.2f} M per CPU-second)" if cpu_rate else ""
    print(f"  {label:<48} {rate / 1e6:8.2f} M hashes/s  {rate / base:7.1f} x hashlib{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each timed run (default 3)")
    args = parser.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {cpu_name()}, {cpu_count()} cores, {platform.machine()}; load average {load}")
    print(f"python {platform.python_version()}; kernels available: {', '.join(available_kinds())}")
    scan_section(args.seconds)
    verify_section(args.seconds)


if __name__ == "__main__":
    main()
