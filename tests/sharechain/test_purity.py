"""The consensus core imports no I/O: no sockets, event loops, clocks, databases or metrics."""

import ast
from pathlib import Path

import sharechain

FORBIDDEN = {"trio", "socket", "plyvel", "libp2p", "prometheus_client", "time", "asyncio", "random", "httpx"}
ADAPTERS = {"store.py", "loader.py"}  # the LevelDB adapter and what opens it


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_consensus_modules_do_no_io():
    root = Path(sharechain.__file__).parent
    checked = 0
    for path in root.rglob("*.py"):
        if path.name in ADAPTERS:
            continue
        bad = imported_modules(path) & FORBIDDEN
        assert not bad, f"{path.relative_to(root)} imports {sorted(bad)}"
        checked += 1
    assert checked >= 10
