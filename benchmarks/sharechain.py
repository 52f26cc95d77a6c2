"""Sharechain figures: shares validated per second (one core) and restart load time.

Usage: .venv/bin/python benchmarks/sharechain.py [--shares 100000] [--miners 20]

Builds a real chain of shares (hashlib proof of work at an easy test target, 20 payout scripts, a
720-share PPLNS window), then times (1) full validation of every share by a fresh ShareChain, and
(2) a restart: opening the LevelDB store holding all of them and loading the index.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2pool.storage.loader import load_chain
from p2pool.storage.share_store import ShareStore
from sharechain.bitcoin.target import target_from_work
from sharechain.chain import ShareChain
from sharechain.params import DEVNET
from sharechain.result import AddStatus
from tests.sharechain.miner import mine_on

PARAMS = dataclasses.replace(DEVNET, max_share_target=target_from_work(16))
T0 = 1_700_000_000


def build_chain(count: int, miners: int) -> list:
    chain = ShareChain(PARAMS)
    shares = []
    for i in range(count):
        now = T0 + i * PARAMS.share_period
        share = mine_on(chain, i % miners, now)
        result = chain.add(share, now=now)
        assert result.status is AddStatus.ADDED, result.error
        shares.append(share)
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shares", type=int, default=100_000)
    parser.add_argument("--miners", type=int, default=20)
    args = parser.parse_args()

    started = time.perf_counter()
    shares = build_chain(args.shares, args.miners)
    print(f"built {len(shares)} shares in {time.perf_counter() - started:.1f} s")

    fresh = ShareChain(PARAMS)
    started = time.perf_counter()
    for i, share in enumerate(shares):
        fresh.add(share, now=T0 + i * PARAMS.share_period)
    elapsed = time.perf_counter() - started
    assert fresh.tip is not None and fresh.tip.hash == shares[-1].hash
    print(f"validation: {len(shares) / elapsed:,.0f} shares/s on one core "
          f"({elapsed * 1e6 / len(shares):.0f} us/share, target >= 5,000 shares/s)")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sharechain"
        with ShareStore(path, PARAMS) as store:
            for start in range(0, len(shares), 1000):
                store.put_shares(shares[start:start + 1000])
        started = time.perf_counter()
        with ShareStore(path, PARAMS) as store:
            loaded = load_chain(store, PARAMS)
            tip = loaded.tip
        elapsed = time.perf_counter() - started
        assert tip is not None and tip.hash == shares[-1].hash
        print(f"restart: loaded {len(loaded)} stored shares in {elapsed:.2f} s (target < 3 s)")


if __name__ == "__main__":
    main()
