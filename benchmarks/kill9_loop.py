"""kill -9 a mining, syncing node at random moments, N times, and check it loses nothing.

Usage: .venv/bin/python benchmarks/kill9_loop.py [--kills 100] [--max-run 10] [--seed 1] [--keep DIR]

Runs a dev chain, a peer node, the victim node and the built-in miner as separate processes on
127.0.0.1 (see benchmarks/kill9/loop.py for the topology). Each round starts the victim, waits a
random 0.3..--max-run seconds (so some kills land while it starts, opens or loads its database),
sends SIGKILL and checks, from its files and from outside: the database opens, every stored share's
parent is stored and the tip is the most work, nothing stored earlier is gone, every share it
acknowledged to the miner and every share its peer received from it is stored. At the end the
victim is started once more and must sync to the peer's tip.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.kill9.loop import run_loop
from benchmarks.loadgen.target import load_average


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--max-run", type=float, default=10.0, help="longest a victim runs before its kill (s)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the kill moments (printed; replayable)")
    parser.add_argument("--keep", type=Path, help="keep the datadirs and logs here instead of a temporary directory")
    parser.add_argument("--trace", action="store_true", help="write every Stratum line the proxy relays to proxy.trace")
    args = parser.parse_args()
    if not 1 <= args.kills <= 10_000:
        parser.error("--kills must be 1..10000")
    root = args.keep or Path(tempfile.mkdtemp(prefix="otedama-kill9-"))
    print(f"seed {args.seed}, {args.kills} kills, datadirs in {root}, load average {load_average():.2f}", flush=True)
    try:
        report = run_loop(root, args.kills, args.seed, args.max_run, trace=args.trace)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    final = report.final
    print(f"\n{report.kills} kills ({report.kills_while_serving} while serving miners, the rest while starting) in "
          f"{report.seconds:.0f} s; final store: {final.shares if final else '?'} shares, "
          f"{final.acked if final else '?'} acknowledged to the miner, {final.announced if final else '?'} received by "
          f"the peer; synced with the peer afterwards: {report.synced}; load average {load_average():.2f}")
    print(f"acknowledged submits below the share target (not shares): {report.below_share_target}; whose job's share "
          f"difficulty the proxy could not learn (not checked): {report.unclassified}")
    print(f"failures: {len(report.failures)}" + "".join(f"\n  kill {n}: {p}" for n, p in report.failures))
    return 1 if report.failures or not report.synced else 0


if __name__ == "__main__":
    sys.exit(main())
