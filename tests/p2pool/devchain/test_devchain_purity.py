"""The devchain's pure core (and the template parser) import no I/O: no event loop, clock, database or socket."""

from __future__ import annotations

import ast
from pathlib import Path

import p2pool.chain.template
import p2pool.devchain

FORBIDDEN = {"trio", "socket", "plyvel", "time", "asyncio", "random", "httpx", "h11", "logging", "os"}
PURE = ["params.py", "validation.py", "chain.py", "mempool.py", "views.py"]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_pure_modules_do_no_io() -> None:
    root = Path(p2pool.devchain.__file__).parent
    paths = [root / name for name in PURE] + [Path(p2pool.chain.template.__file__)]
    for path in paths:
        bad = imported_modules(path) & FORBIDDEN
        assert not bad, f"{path.name} imports {sorted(bad)}"
        # The pure devchain modules may only build on each other and the Bitcoin primitives.
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("p2pool."):
                assert node.module.startswith(("p2pool.devchain.", "p2pool.chain.template")), node.module
                assert node.module.removeprefix("p2pool.devchain.") + ".py" in PURE or "template" in node.module
