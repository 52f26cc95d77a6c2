#!/usr/bin/env bash
# Installs Otedama and everything its tests need into ./.venv (idempotent; safe to run again).
# Debian packages: a C compiler and GMP (libp2p's fastecdsa is built from source), OpenCL's ICD loader and PoCL (the CPU OpenCL driver the kernel
# tests run on), Chromium and its WebDriver (the browser tests of the API's pages), Prometheus (its promtool checks the alerting rules). They
# are installed only when missing, with sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
dpkg -s pocl-opencl-icd >/dev/null 2>&1 || need_apt+=(pocl-opencl-icd)
dpkg -s ocl-icd-libopencl1 >/dev/null 2>&1 || need_apt+=(ocl-icd-libopencl1)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
# libp2p builds fastecdsa from source, which links GMP.
dpkg -s libgmp-dev >/dev/null 2>&1 || need_apt+=(libgmp-dev)
# The browser tests drive headless Chromium through Selenium and chromedriver (tests/browser.py).
dpkg -s chromium >/dev/null 2>&1 || need_apt+=(chromium)
dpkg -s chromium-driver >/dev/null 2>&1 || need_apt+=(chromium-driver)
# promtool checks and unit-tests the alerting rules (deploy/prometheus/), in the suite.
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing Debian packages: ${need_apt[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# trio has shipped its own type hints since 0.22; the stale stubs of trio-typing (a dependency of
# libp2p, which needs only its runtime module) would shadow them for mypy.
rm -rf .venv/lib/python*/site-packages/trio-stubs
