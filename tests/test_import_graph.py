"""No import cycle in the project's own code: not between modules, and not between packages.

Imports are read from the source (every ``import`` and ``from ... import``, including those inside
functions and under ``TYPE_CHECKING``: a cycle hidden in a function is still a cycle of design).
Packages are the top-level ones (``sharechain``, ``kernels``, ``miner``, ``p2pool``, ``bootstrap``)
and, inside each, its direct subpackages; a module directly in a top-level package counts on its own
(``p2pool/node.py``, ``p2pool/events.py``), so the composition root may import every subpackage while
a subpackage may import a shared module such as ``p2pool/events.py`` but never the root itself.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sharechain", "kernels", "miner", "p2pool", "bootstrap")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports. Parent packages, which Python imports first, are not counted:
    ``from kernels.sha256 import f`` is an edge to ``kernels.sha256`` only."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name`` imports mod.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for imported in targets:
            target = imported
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def unit(module: str) -> str:
    """The package-level node a module belongs to (see the module docstring)."""
    parts = module.split(".")
    if len(parts) == 1:
        return module
    top, second = parts[0], parts[1]
    is_subpackage = (ROOT / top / second).is_dir()
    return f"{top}.{second}" if is_subpackage or len(parts) == 2 else module


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path (first node repeated at the end), or None."""
    colour: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if colour[nxt] == 1:
                return [*stack[stack.index(nxt):], nxt]
            if colour[nxt] == 0 and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(edges):
        if colour[node] == 0 and (cycle := visit(node)) is not None:
            return cycle
    return None


def collapse(edges: dict[str, set[str]], to: object) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for source, targets in edges.items():
        for target in targets:
            a, b = to(source), to(target)  # type: ignore[operator]
            if a != b and not (a.startswith(b + ".") or b.startswith(a + ".")):
                out[a].add(b)
    return out


def test_the_graph_sees_the_project() -> None:
    edges = graph()
    assert len(edges) > 80
    assert "p2pool.node" in edges and "sharechain.chain" in edges["p2pool.node"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_cycle_between_modules() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("level", ["top-level packages", "subpackages"])
def test_no_cycle_between_packages(level: str) -> None:
    to = (lambda m: m.split(".")[0]) if level == "top-level packages" else unit
    cycle = find_cycle(collapse(graph(), to))
    assert cycle is None, " -> ".join(cycle or [])
