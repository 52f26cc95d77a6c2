"""SHA-256d kernel figures: nonce-scan hashes/s per implementation and verify_headers headers/s.

Usage: .venv/bin/python benchmarks/kernels.py [--seconds 3]

Prints, in one run: the hashlib loop, Numba on 1 thread and on all cores, OpenCL on each device
present (and on all of them together when there are several), each as hashes/s and as a ratio to
the hashlib loop; then verify_headers in headers/s per kind. For each OpenCL device it also runs
the straightforward kernel of baseline_sha256d.cl and every scan variant the device built (GPUs:
kernels.opencl.GPU_VARIANTS), each with its ratio to that baseline; "tuned" marks the variant
the scanner chose. Each figure is the best of three timed runs of about --seconds each, so a busy
machine shows less than its real speed, not more.

On a GPU machine without pyopencl, see docs/performance.md ("Measuring on a GPU").
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernels import Scanner, available_kinds, make_scanner, verify_headers
from kernels.parallel import cpu_count
from kernels.sha256 import midstate

BASELINE_CL = Path(__file__).resolve().parent / "baseline_sha256d.cl"

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
        opencl_section(base, seconds)


def opencl_section(base: float, seconds: float) -> None:
    from kernels.opencl import OpenCLScanner

    scanner, start = timed(OpenCLScanner)
    assert isinstance(scanner, OpenCLScanner)
    print(f"  (opencl start: platform, program builds or cache loads, variant timing: {start:.2f} s)")
    for i, device in enumerate(scanner.devices):
        chunk = 1 << 24 if device.vec > 1 else 1 << 32  # a GPU call needs ~0.1 s of work at least
        baseline = baseline_rate(device, seconds)
        print(f"  opencl, {device.name}")
        row("  baseline: straightforward kernel", baseline, base, versus=baseline)
        for variant in device.scan_kernels:
            rate = scan_rate(OpenCLScanner([i], variant), chunk, seconds)
            tuned = " (tuned)" if variant == device.variant else ""
            row(f"  {variant}{tuned}", rate, base, versus=baseline)
    if len(scanner.devices) > 1:
        row("opencl, all devices", scan_rate(scanner, 1 << 32, seconds), base)


def baseline_rate(device, seconds: float) -> float:
    """Hashes/s of baseline_sha256d.cl on one kernels.opencl device: launches grown until one takes
    25 ms, queued four at a time like the real scanner, with no per-scan host work (in its favour)."""
    import numpy as np
    import pyopencl as cl

    program = cl.Program(device.context, BASELINE_CL.read_text()).build(options=["-cl-std=CL1.2"])
    kernel = cl.Kernel(program, "scan")
    words = np.array(midstate(HEADER76) + struct.unpack(">3I", HEADER76[64:76]), dtype=np.uint32)
    mid = device.constant(words)
    results = np.zeros(256, dtype=np.uint32)
    out = cl.Buffer(device.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR, hostbuf=results)
    group = device.group_size
    tgt_hi = TARGET >> 224
    nonce = 0

    def launches(size: int, n: int) -> int:
        nonlocal nonce
        for _ in range(n):
            if nonce + size > 1 << 32:
                nonce = 0
            kernel.set_args(mid, np.uint32(nonce), np.uint32(tgt_hi), out, np.uint32(255))
            cl.enqueue_nd_range_kernel(device.queue, kernel, (size,), (group,))
            nonce += size
        cl.enqueue_copy(device.queue, results, out, is_blocking=True)
        return size * n

    size = 1 << 16
    while size < 1 << 30:
        began = time.perf_counter()
        launches(size, 1)
        if time.perf_counter() - began >= 0.025:
            break
        size *= 2
    return best_rate(lambda: launches(size, 4), seconds)


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


def row(label: str, rate: float, base: float, cpu_rate: float | None = None, versus: float | None = None) -> None:
    """One line; ``cpu_rate`` (per CPU second of the scanning thread) shows a one-thread speed that
    other processes on the machine cannot lower; ``versus`` adds a ratio to the OpenCL baseline."""
    extra = f"  ({cpu_rate / 1e6:.2f} M per CPU-second)" if cpu_rate else ""
    if versus:
        extra += f"  {rate / versus:5.2f} x baseline"
    print(f"  {label:<48} {rate / 1e6:10.2f} M hashes/s  {rate / base:8.1f} x hashlib{extra}")


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
