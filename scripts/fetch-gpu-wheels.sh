#!/usr/bin/env bash
# Downloads into .whl/ the wheels that a GPU machine without internet needs for the OpenCL
# benchmark: pyopencl and its pure-Python and small dependencies (pytools, siphash24, platformdirs,
# typing-extensions; the lent machines have numpy and numba, which it does not fetch), for CPython 3.12 on
# x86-64 Linux (PYTHON_VERSION to change). Carry .whl/ there and
# run scripts/gpu-benchmark.sh (docs/performance.md, "Measuring on a GPU").
set -euo pipefail
cd "$(dirname "$0")/.."

py=${PYTHON_VERSION:-3.12}
python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python
rm -rf .whl
mkdir -p .whl
for spec in pyopencl==2026.1.4 pytools==2026.1.1 siphash24==1.9 platformdirs==4.14.7 typing-extensions==4.16.0; do
    "$python" -m pip download -q --no-deps --only-binary=:all: --python-version "$py" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl "$spec" >&2
done
ls .whl
