"""The paced scanner hashes for real (the same nonces as its kernel), counts every hash, and takes
at least the time its rate allows; behind a gate it starts only once the gate opens."""

from __future__ import annotations

import threading
import time

from benchmarks.paced_scanner import PacedScanner
from kernels.factory import make_scanner

HEADER = bytes(range(76))
EASY = (1 << 256) // 64  # about one nonce in 64 meets it


def test_it_finds_what_its_kernel_finds_counts_the_hashes_and_keeps_to_its_rate():
    inner = make_scanner("hashlib", threads=1)
    paced = PacedScanner(inner, rate=20_000)
    began = time.monotonic()
    result = paced.scan(HEADER, EASY, 1000, 2000)
    elapsed = time.monotonic() - began
    assert result == inner.scan(HEADER, EASY, 1000, 2000) and result.nonces
    assert paced.hashes == 2000
    assert elapsed >= 2000 / 20_000  # a lower bound: a slow machine only takes longer


def test_behind_a_gate_it_hashes_once_the_gate_opens():
    gate = threading.Event()
    paced = PacedScanner(make_scanner("hashlib", threads=1), rate=1e9, gate=gate)
    results = []
    worker = threading.Thread(target=lambda: results.append(paced.scan(HEADER, EASY, 0, 100)))
    worker.start()
    assert not results and paced.hashes == 0
    gate.set()
    worker.join()
    assert paced.hashes == 100 and len(results) == 1
