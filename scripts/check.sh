#!/usr/bin/env bash
# The whole check CI runs: lint (ruff), types (mypy, the files listed in pyproject.toml), then every test.
# Extra arguments go to pytest (e.g. a path or -k EXPR).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
