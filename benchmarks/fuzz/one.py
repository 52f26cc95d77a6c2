"""One atheris process: ``python -m benchmarks.fuzz.one TARGET [libFuzzer options] CORPUS_DIR``.

The project's modules are imported under atheris's instrumentation, so libFuzzer is guided by
coverage of our Python code. run.py starts this once per target and reads its final statistics.
"""

from __future__ import annotations

import importlib
import sys

import atheris


def main() -> None:
    name = sys.argv.pop(1)
    from benchmarks.fuzz.targets import TARGETS

    with atheris.instrument_imports(include=["p2pool", "sharechain", "tests.fixtures"]):
        oracle = importlib.import_module(TARGETS[name].module)
    # Build the base shares etc. once, outside the timed loop.
    for seed in TARGETS[name].seeds():
        oracle.one_input(seed)
    atheris.Setup(sys.argv, oracle.one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
