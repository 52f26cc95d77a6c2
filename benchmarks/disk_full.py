"""Disk-full figures: what a failed write costs (the sharechain loaded back from the database, so that
memory holds what the disk holds) and what the recovery costs once space returns.

Usage (as root: it mounts a tmpfs): .venv/bin/python benchmarks/disk_full.py [--shares 20000]

Builds a real chain (hashlib proof of work at an easy test target) under a mainnet-sized keep rule
(PPLNS window and reorg margin of 8,640), writes it to LevelDB on a small tmpfs, fills the tmpfs, and
times (1) the share whose write fails, (2) a recovery attempt while still full, (3) the recovery after
the filler is deleted, then checks that the database opens intact.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2pool.events import ShareSource, SourceKind
from p2pool.intake import ShareIntake
from p2pool.storage.loader import load_chain
from p2pool.storage.share_store import ShareStore, StoreWriteError
from sharechain.bitcoin.target import target_from_work
from sharechain.chain import ShareChain
from sharechain.params import DEVNET
from tests.fixtures.full_disk import fill, small_filesystem
from tests.sharechain.miner import mine_on

PARAMS = dataclasses.replace(DEVNET, max_share_target=target_from_work(16), pplns_window=8640, reorg_margin=8640)
T0 = 1_700_000_000
LOCAL = ShareSource(SourceKind.LOCAL, worker="bench")
SYNCED = ShareSource(SourceKind.SYNC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shares", type=int, default=20_000)
    parser.add_argument("--size", default="256m", help="the tmpfs's size")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp, small_filesystem(Path(tmp) / "disk", args.size) as disk:
        chain = ShareChain(PARAMS)
        store = ShareStore(disk / "sharechain", PARAMS)
        intake = ShareIntake(chain, store, lambda event: None, lambda: T0 + 10 * args.shares)
        started = time.perf_counter()
        for i in range(args.shares):  # as shares from peers arrive: written without waiting for the disk
            intake.add(mine_on(chain, i % 20, T0 + i * PARAMS.share_period), SYNCED)
        print(f"built and stored {len(chain)} shares (kept) in {time.perf_counter() - started:.1f} s")
        filler = fill(disk)
        started, n = time.perf_counter(), args.shares
        try:
            while True:  # the last page of LevelDB's log may take a share or two
                intake.add(mine_on(chain, n % 20, T0 + n * PARAMS.share_period), LOCAL)
                n += 1
                started = time.perf_counter()
        except StoreWriteError as exc:
            failed = time.perf_counter() - started
            print(f"failed write refused and the chain ({len(chain)} shares) loaded back in {failed:.2f} s: {exc}")
        started = time.perf_counter()
        assert not intake.recover()
        print(f"recovery attempt while still full: {1000 * (time.perf_counter() - started):.1f} ms")
        filler.unlink()
        started = time.perf_counter()
        assert intake.recover()
        print(f"recovery once space returned (reopen, probe, chain loaded back): {time.perf_counter() - started:.2f} s")
        tip = chain.tip
        store.close()
        with ShareStore(disk / "sharechain", PARAMS) as reopened:
            loaded = load_chain(reopened, PARAMS)
            assert tip is not None and loaded.tip is not None and loaded.tip.hash == tip.hash
            print(f"reopened intact: {len(loaded)} shares, tip at height {loaded.tip.height}")
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
