"""Freed heap memory goes back to the system when the node asks (glibc's malloc_trim)."""

from __future__ import annotations

import pytest

from p2pool import memory


def _rss_anon_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("RssAnon:"))


@pytest.mark.skipif(not memory.can_trim(), reason="not glibc")
def test_memory_freed_in_the_middle_of_the_heap_goes_back() -> None:
    # 1,000 pieces of 40 KB (under glibc's mmap threshold: from the heap), the last one kept so the heap's
    # top cannot shrink by itself: what is freed below it stays resident until trimmed.
    pieces = [bytearray(40_000) for _ in range(1000)]
    kept = pieces.pop()
    for piece in pieces:
        piece[::4096] = b"\x01" * len(piece[::4096])  # touched: resident
    held = _rss_anon_kb()
    del pieces, piece
    assert memory.trim()
    assert _rss_anon_kb() < held - 20_000  # most of the 40 MB
    assert kept[0] == 0

