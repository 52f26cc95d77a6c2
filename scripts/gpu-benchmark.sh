#!/usr/bin/env bash
# Runs benchmarks/kernels.py on a GPU machine: installs the wheels in .whl/ (fetch-gpu-wheels.sh)
# when pyopencl is missing, registers NVIDIA's OpenCL driver when it is present but not registered
# (an nvidia.icd naming libnvidia-opencl.so.1, through OCL_ICD_VENDORS), prints the GPU's clocks,
# then the benchmark. Arguments go to the benchmark. PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c "import pyopencl" 2>/dev/null; then
    if ! ls .whl/pyopencl-*.whl >/dev/null 2>&1; then
        echo "pyopencl is not installed and .whl/ has no wheels: run scripts/fetch-gpu-wheels.sh first" >&2
        exit 2
    fi
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/otedama-site .whl/*.whl
    export PYTHONPATH=/tmp/otedama-site${PYTHONPATH:+:$PYTHONPATH}
fi
if [ -z "${OCL_ICD_VENDORS:-}" ] && command -v nvidia-smi >/dev/null; then
    mkdir -p /tmp/otedama-icd
    echo libnvidia-opencl.so.1 >/tmp/otedama-icd/nvidia.icd
    export OCL_ICD_VENDORS=/tmp/otedama-icd
fi
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv || true
fi
PYTHONUNBUFFERED=1 exec "$python" benchmarks/kernels.py "$@"
