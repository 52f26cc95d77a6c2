"""What the node's code loads before it knows what it runs: libp2p (about 70 MB) only for a node that
runs P2P, the kernels' compilers and array libraries only for a node that mines."""

from __future__ import annotations

import subprocess
import sys

HEAVY = {"libp2p", "numba", "llvmlite", "numpy", "pyopencl"}


def test_the_node_and_cli_load_no_heavy_library_at_import() -> None:
    code = ("import sys, p2pool.cli, p2pool.node, p2pool.devnet; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(HEAVY)!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
