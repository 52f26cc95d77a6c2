#!/usr/bin/env bash
# The whole check CI runs: lint (ruff), types (mypy, the files listed in pyproject.toml), then every test.
# Extra arguments go to pytest (e.g. a path or -k EXPR); the tests run on two workers (pytest-xdist).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/mypy
# Two workers, a test file each at a time (a file's tests share its fixtures and helpers); OTEDAMA_TEST_WORKERS=0 runs in one process.
exec .venv/bin/python -m pytest -n "${OTEDAMA_TEST_WORKERS:-2}" --dist loadfile "$@"
