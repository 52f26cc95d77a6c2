"""Coverage-guided fuzzing of every stranger-facing parser with atheris (libFuzzer), N seconds each.

Usage: .venv/bin/pip install -e '.[fuzz]' && .venv/bin/python benchmarks/fuzz/run.py [--seconds 300] [TARGET ...]

Targets: ``stratum`` (bytes cut into chunks into a whole Stratum Session), ``p2p`` (the sync
protocol's frame decoder and every message decoder), ``share`` (Share.parse, then ShareChain.add
on a real chain; inputs are also spliced into a valid share), ``rpc`` (a bitcoind JSON-RPC reply,
then its result as a getblocktemplate). Each runs in its own process from seeds of valid input; the
table gives inputs tried, corpus size, coverage features and crashes. Crash inputs are kept in
``--artifacts`` (reproduce one: ``python -m benchmarks.fuzz.one TARGET FILE``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.fuzz.targets import TARGETS

_STAT = re.compile(r"stat::(\w+):\s*(\d+)")
_FEATURES = re.compile(r"#\d+\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)")


def fuzz(name: str, seconds: int, artifacts: Path) -> dict[str, int | str]:
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as corpus:
        for i, seed in enumerate(TARGETS[name].seeds()):
            (Path(corpus) / f"seed{i}").write_bytes(seed)
        options = []
        if TARGETS[name].tokens:
            dictionary = Path(corpus).with_suffix(".dict")
            dictionary.write_text(TARGETS[name].dictionary())
            options.append(f"-dict={dictionary}")
        command = [sys.executable, "-m", "benchmarks.fuzz.one", name, *options, f"-max_total_time={seconds}",
                   "-print_final_stats=1", f"-max_len={TARGETS[name].max_len}", "-timeout=10", "-rss_limit_mb=2048",
                   f"-artifact_prefix={artifacts}/{name}-", corpus]
        done = subprocess.run(command, check=False, cwd=Path(__file__).resolve().parents[2], capture_output=True,
                              text=True, timeout=seconds + 300)
    output = done.stdout + done.stderr
    stats = {key: int(value) for key, value in _STAT.findall(output)}
    features = _FEATURES.findall(output)
    crashed = done.returncode != 0
    if crashed:
        print(output[-3000:], file=sys.stderr)
    return {"target": name, "runs": stats.get("number_of_executed_units", 0), "seconds": seconds,
            "cov": int(features[-1][0]) if features else 0, "features": int(features[-1][1]) if features else 0,
            "corpus": int(features[-1][2]) if features else 0, "crashes": 1 if crashed else 0,
            "rss_mb": stats.get("peak_rss_mb", 0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"any of {', '.join(sorted(TARGETS))} (default all)")
    parser.add_argument("--seconds", type=int, default=60, help="seconds per target")
    parser.add_argument("--artifacts", type=Path, default=Path(tempfile.gettempdir()) / "otedama-fuzz")
    args = parser.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}")
    args.targets = args.targets or sorted(TARGETS)
    args.artifacts.mkdir(parents=True, exist_ok=True)
    print(f"{'target':8} {'inputs tried':>13} {'seconds':>8} {'inputs/s':>9} {'cov':>6} {'features':>9} {'corpus':>7} "
          f"{'crashes':>8}")
    failed = 0
    for name in args.targets:
        row = fuzz(name, args.seconds, args.artifacts)
        failed += int(row["crashes"])
        runs = int(row["runs"])
        print(f"{name:8} {runs:>13,} {args.seconds:>8} {runs / args.seconds:>9,.0f} {row['cov']:>6} "
              f"{row['features']:>9} {row['corpus']:>7} {row['crashes']:>8}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
