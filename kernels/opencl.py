"""OpenCL via pyopencl: the nonce scan and batch check of ``sha256d.cl`` on every OpenCL device.

A scan cuts its range into launches that every device pulls from a shared queue; each launch
reports candidates (top 32 bits of the hash <= the target's) through its own small block of the
result buffer: an atomic counter and ``CAP`` nonce slots, read back once per group of ``DEPTH``
launches, so there is no host round-trip per nonce. The host confirms candidates with hashlib;
a launch whose counter overflowed is scanned again in halves. Launch size adapts until a group
takes about ``GROUP_SECONDS``.

What limits it on a GPU is integer ALU throughput, not memory: a launch moves a few bytes, while
each nonce costs about 120 SHA-256 rounds and 90 message-schedule words of 32-bit adds, rotates and
logic (2 x 64 rounds, less what precomputation saves: the first block via the midstate, rounds 0-3
of the second block and nonce-free schedule words on the host, round 0 of the second hash, and
rounds 61-63, since only the top word H7 is needed to reject a nonce). That is roughly 2,500 instructions per
nonce where the ISA has a funnel-shift rotate and 3-input logic (NVIDIA SHF/LOP3), about twice that
without, so hashes/s follows the device's 32-bit integer operations per second. On NVIDIA GPUs those
logic, shift and add instructions share one pipe (ALU) while a second pipe (FMA) that executes integer
multiply-adds sits almost idle; the scan variants in GPU_VARIANTS move additions and some rotations
onto it (see the top of sha256d.cl and docs/kernels.md). Each GPU times every variant when the engine
is built and keeps its fastest. On CPU devices (PoCL) each work-item hashes CPU_VEC nonces in OpenCL
vector lanes so that they map onto SIMD, with the plain kernel.
"""

from __future__ import annotations

import functools
import importlib.resources
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from kernels.base import (
    MAX_NONCES,
    ScanResult,
    check_headers,
    check_scan_args,
    confirm,
    top_word,
)
from kernels.batch import header_words, target_words
from kernels.parallel import run_all
from kernels.sha256 import precompute

try:
    import pyopencl as cl
except ImportError:  # optional dependency: the "opencl" extra
    cl = None  # type: ignore[assignment]

CAP = 255  # candidate slots per launch (a block is 1 + CAP words: 1 KiB)
DEPTH = 4  # launches queued per device before one read-back
GROUP_SECONDS = 0.1  # aim for a group of DEPTH launches to take about this long
MIN_LAUNCH = 1 << 16
GROUP_SIZE = 64  # work-items per work-group; global sizes are rounded up to a multiple
CPU_VEC = 8  # nonces per work-item on CPU devices (OpenCL vector lanes; see sha256d.cl)
MAX_LAUNCH = 1 << 28

PLAIN = "plain"  # the scan kernel as written (every device; CPU devices use only this one)
# Scan-only variants tried on GPUs: build options for sha256d.cl (its FMA_* switches).
GPU_VARIANTS: dict[str, tuple[str, ...]] = {
    "fma-adds": ("-DSCAN_ONLY", "-DFMA_ADDS=2"),
    "fma-round-adds-rotates": ("-DSCAN_ONLY", "-DFMA_ADDS=1", "-DFMA_ROTATES=1"),
    "fma-adds-rotates": ("-DSCAN_ONLY", "-DFMA_ADDS=2", "-DFMA_ROTATES=1"),
}
TUNE_SECONDS = 0.03  # a variant's timed launch grows until it takes at least this long
TUNE_HEADER76 = bytes(range(76))  # any header: the timing does not depend on it


@functools.cache
def opencl_devices() -> tuple[cl.Device, ...]:
    """Every OpenCL device of every platform; empty without pyopencl or a platform."""
    if cl is None:
        return ()
    try:
        platforms = cl.get_platforms()
    except cl.Error:  # the ICD loader found no platform
        return ()
    devices: list[cl.Device] = []
    for platform in platforms:
        try:
            devices += platform.get_devices()
        except cl.Error:  # a platform with no devices raises DEVICE_NOT_FOUND
            continue
    return tuple(devices)


def _source() -> str:
    return importlib.resources.files("kernels").joinpath("sha256d.cl").read_text(encoding="utf-8")


class _Device:
    """One device's context, queue, compiled kernels and current launch size."""

    def __init__(self, device: cl.Device, variants: Sequence[str] | None = None, vec: int | None = None) -> None:
        """Build the kernels; ``variants`` are the GPU_VARIANTS to build and time besides the plain
        scan (default: all of them on GPUs, none on CPU devices); ``vec`` nonces per work-item
        (default: CPU_VEC on CPU devices, 1 on GPUs; tests run the GPU configuration on PoCL)."""
        self.name = f"{device.name.strip()} ({device.platform.name.strip()})"
        self.launch = MIN_LAUNCH
        self.lock = threading.Lock()
        self.context = cl.Context([device])
        self.device = device
        self.queue = cl.CommandQueue(self.context)
        # One fixed work-group size: PoCL compiles a kernel variant per size it meets.
        self.group_size = min(GROUP_SIZE, device.max_work_group_size)
        is_cpu = bool(device.type & cl.device_type.CPU)
        self.vec = vec or (CPU_VEC if is_cpu else 1)
        options = ["-cl-std=CL1.2", f"-DVEC={self.vec}"]
        program = cl.Program(self.context, _source()).build(options=options)
        self.verify_kernel = cl.Kernel(program, "verify")
        self.scan_kernels = {PLAIN: cl.Kernel(program, "scan")}
        if variants is None:
            variants = () if is_cpu else tuple(GPU_VARIANTS)
        for name in variants:
            built = cl.Program(self.context, _source()).build(options=options + list(GPU_VARIANTS[name]))
            self.scan_kernels[name] = cl.Kernel(built, "scan")
        self.variant = PLAIN  # the scan kernel in use
        self.variant_rates: dict[str, float] = {}  # hashes/s of each variant when tuned
        if len(self.scan_kernels) > 1:
            self.tune()

    def tune(self) -> None:
        """Time every scan variant on this device and keep the fastest."""
        pre = self.constant(np.array(precompute(TUNE_HEADER76), dtype=np.uint32))
        self.variant_rates = {name: self._rate(pre, name) for name in self.scan_kernels}
        self.variant = max(self.variant_rates, key=self.variant_rates.__getitem__)

    def _rate(self, pre: cl.Buffer, variant: str) -> float:
        """Hashes/s of one launch of ``variant``, grown until it takes TUNE_SECONDS (best of two)."""
        count = MIN_LAUNCH
        self.run_scan(pre, 0, [(0, count)], variant)  # the first launch may finish compiling
        while True:
            seconds = min(self._time(pre, count, variant) for _ in range(2))
            if seconds >= TUNE_SECONDS or count >= MAX_LAUNCH:
                return count / seconds
            count = min(count * 2, MAX_LAUNCH)

    def _time(self, pre: cl.Buffer, count: int, variant: str) -> float:
        began = time.perf_counter()
        self.run_scan(pre, 0, [(0, count)], variant)
        return time.perf_counter() - began

    def run_scan(
        self, pre: cl.Buffer, tgt_hi: int, launches: list[tuple[int, int]], variant: str | None = None
    ) -> np.ndarray:
        """Counters and slots of each launch (one row per launch: count, then CAP nonces), run with
        ``variant`` (default: the tuned one)."""
        kernel = self.scan_kernels[variant or self.variant]
        results = np.zeros((len(launches), 1 + CAP), dtype=np.uint32)
        mf = cl.mem_flags
        with self.lock:
            buf = cl.Buffer(self.context, mf.READ_WRITE | mf.COPY_HOST_PTR, hostbuf=results)
            for slot, (start, count) in enumerate(launches):
                args = (
                    pre,
                    np.uint32(start),
                    np.uint32(count),
                    np.uint32(tgt_hi),
                    buf,
                    np.uint32(CAP),
                    np.uint32(slot),
                    np.uint32(1),  # fma_one
                )
                kernel.set_args(*args)
                cl.enqueue_nd_range_kernel(
                    self.queue,
                    kernel,
                    (_global_size(-(-count // self.vec), self.group_size),),
                    (self.group_size,),
                )
            cl.enqueue_copy(self.queue, results, buf, is_blocking=True)
        return results

    def constant(self, data: np.ndarray) -> cl.Buffer:
        mf = cl.mem_flags
        return cl.Buffer(self.context, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=data)

    def adapt(self, launch: int, seconds: float) -> None:
        """Grow or shrink the launch size towards a group time of GROUP_SECONDS."""
        if launch < self.launch:
            return  # a short tail launch says nothing about the device
        if seconds < GROUP_SECONDS / 2:
            self.launch = min(self.launch * 2, MAX_LAUNCH)
        elif seconds > GROUP_SECONDS * 2:
            self.launch = max(self.launch // 2, MIN_LAUNCH)


def _global_size(count: int, group_size: int) -> int:
    """``count`` rounded up to a multiple of the work-group size."""
    return -(-count // group_size) * group_size


_engine_lock = threading.Lock()


def _engine() -> tuple[_Device, ...]:
    """The compiled program on every device, built once per process (under a lock: threads may race)."""
    with _engine_lock:
        return _build_engine()


@functools.cache
def _build_engine() -> tuple[_Device, ...]:
    return build_devices()


def build_devices(variants: Sequence[str] | None = None, vec: int | None = None) -> tuple[_Device, ...]:
    """Every OpenCL device with its kernels built; ``variants`` and ``vec`` as for ``_Device``."""
    devices = opencl_devices()
    if not devices:
        raise RuntimeError("no OpenCL device (pyopencl missing, or no OpenCL platform installed)")
    return tuple(_Device(d, variants, vec) for d in devices)


@dataclass
class _Launches:
    """The launches of one scan, handed out in order to whichever device asks next."""

    next_nonce: int
    end: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, device: _Device) -> list[tuple[int, int]]:
        with self.lock:
            group: list[tuple[int, int]] = []
            while len(group) < DEPTH and self.next_nonce < self.end:
                count = min(device.launch, self.end - self.next_nonce)
                group.append((self.next_nonce, count))
                self.next_nonce += count
            return group


class OpenCLScanner:
    """Nonce scan on every OpenCL device at once (all of them, or those given by index)."""

    name = "opencl"

    def __init__(
        self,
        device_indexes: Sequence[int] | None = None,
        variant: str | None = None,
        *,
        devices: Sequence[_Device] | None = None,
    ) -> None:
        """``variant`` pins one scan kernel variant on every device (default: each device's fastest);
        ``devices`` replaces the process-wide engine (build_devices: the GPU configuration on PoCL)."""
        devices = _engine() if devices is None else tuple(devices)
        self.devices = devices if device_indexes is None else tuple(devices[i] for i in device_indexes)
        for device in self.devices:
            if variant is not None and variant not in device.scan_kernels:
                raise ValueError(f"{device.name} has no scan variant {variant!r}: {sorted(device.scan_kernels)}")
        self.variant = variant

    @property
    def device_names(self) -> list[str]:
        return [d.name for d in self.devices]

    def describe(self) -> str:
        return "opencl: " + "; ".join(
            f"{name}, kernel {variant}" for name, variant in zip(self.device_names, self.device_variants, strict=True)
        )

    @property
    def device_variants(self) -> list[str]:
        """The scan variant each device runs."""
        return [self.variant or d.variant for d in self.devices]

    def scan(self, header76: bytes, target: int, start_nonce: int, count: int) -> ScanResult:
        check_scan_args(header76, target, start_nonce, count)
        if count == 0:
            return ScanResult((), 0)
        pre = np.array(precompute(header76), dtype=np.uint32)
        tgt_hi = top_word(target)
        launches = _Launches(start_nonce, start_nonce + count)
        per_device = run_all([_DeviceWork(d, pre, tgt_hi, launches, self.variant) for d in self.devices])
        blocks = sorted((b for found in per_device for b in found), key=lambda b: b[0])
        nonces: list[int] = []
        for start, n, row in blocks:
            if len(nonces) >= MAX_NONCES:
                break
            if row[0] > CAP:  # overflowed: more candidates than slots, rescan in halves
                nonces += _exact(self.devices[0], header76, pre, target, start, n, self.variant)
            else:
                nonces += sorted(confirm(header76, target, row[1 : 1 + row[0]].tolist()))
        return ScanResult(tuple(nonces[:MAX_NONCES]), count)


class _DeviceWork:
    """One device's loop: take a group of launches, run it, keep each launch's result block."""

    def __init__(self, device: _Device, pre: np.ndarray, tgt_hi: int, launches: _Launches, variant: str | None) -> None:
        self.device, self.pre, self.tgt_hi, self.launches, self.variant = device, pre, tgt_hi, launches, variant

    def __call__(self) -> list[tuple[int, int, np.ndarray]]:
        pre = self.device.constant(self.pre)
        blocks = []
        while group := self.launches.take(self.device):
            began = time.perf_counter()
            results = self.device.run_scan(pre, self.tgt_hi, group, self.variant)
            self.device.adapt(group[0][1], time.perf_counter() - began)
            blocks += [(start, n, row) for (start, n), row in zip(group, results, strict=True)]
        return blocks


def _exact(
    device: _Device, header76: bytes, pre: np.ndarray, target: int, start: int, count: int, variant: str | None
) -> list[int]:
    """The first MAX_NONCES solutions in a range whose candidates overflowed one launch's slots."""
    results = device.run_scan(device.constant(pre), top_word(target), [(start, count)], variant)
    if results[0, 0] <= CAP:
        return sorted(confirm(header76, target, results[0, 1 : 1 + results[0, 0]].tolist()))
    half = count // 2
    found = _exact(device, header76, pre, target, start, half, variant)
    if len(found) < MAX_NONCES:
        found += _exact(device, header76, pre, target, start + half, count - half, variant)
    return found[:MAX_NONCES]


def verify_headers_opencl(headers: bytes, targets: Sequence[int]) -> list[bool]:
    """``result[i]`` is sha256d(header i) <= targets[i], on the first OpenCL device."""
    n = check_headers(headers, targets)
    if n == 0:
        return []
    device = _engine()[0]
    words = header_words(headers, n)
    tgt = target_words(targets)
    out = np.empty(n, dtype=np.uint8)
    mf = cl.mem_flags
    with device.lock:
        words_buf = cl.Buffer(device.context, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=words)
        tgt_buf = cl.Buffer(device.context, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=tgt)
        out_buf = cl.Buffer(device.context, mf.WRITE_ONLY, size=n)
        device.verify_kernel.set_args(words_buf, tgt_buf, out_buf, np.uint32(n))
        cl.enqueue_nd_range_kernel(
            device.queue, device.verify_kernel, (_global_size(n, device.group_size),), (device.group_size,)
        )
        cl.enqueue_copy(device.queue, out, out_buf, is_blocking=True)
    return out.astype(bool).tolist()
