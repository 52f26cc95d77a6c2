"""One purity check for every pure core: which modules a file imports, an assertion that none is forbidden,
and the import cycles among a set of modules.

A forbidden entry is a module name and everything under it (``"trio"`` forbids ``trio.lowlevel``,
``"p2pool.stratum.server"`` forbids that adapter only). An ``allow`` entry, also covering what is
under it, exempts imports a forbidden entry would catch (``forbidden={"p2pool"}`` with
``allow={"p2pool.devchain.params"}``). Imports under ``if TYPE_CHECKING:`` count too: a core should
not even name an adapter's types.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
# What no pure core may touch: sockets, event loops, threads, clocks, randomness, databases,
# networking libraries and metrics.
IO = frozenset({"trio", "asyncio", "socket", "selectors", "threading", "time", "random", "plyvel", "sqlite3",
                "libp2p", "multiaddr", "httpx", "h11", "prometheus_client"})


def module_name(path: Path) -> str:
    """The dotted name of a module file of this project."""
    parts = list(path.resolve().relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, by full dotted name (relative imports resolved)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            # ``from package import name``: the name may be a module of its own.
            names.update(f"{module}.{alias.name}" if module else alias.name for alias in node.names)
    return names


def package_files(package: ModuleType) -> list[Path]:
    """Every module file of ``package`` and its subpackages, in a stable order."""
    assert package.__file__ is not None
    return sorted(Path(package.__file__).parent.rglob("*.py"))


def _covers(entry: str, name: str) -> bool:
    return name == entry or name.startswith(entry + ".")


def forbidden_imports(path: Path, forbidden: Iterable[str], allow: Iterable[str] = ()) -> list[str]:
    """The modules ``path`` imports that a ``forbidden`` entry covers and no ``allow`` entry does."""
    forbidden, allow = list(forbidden), list(allow)
    return sorted(name for name in imported_modules(path)
                  if any(_covers(f, name) for f in forbidden) and not any(_covers(a, name) for a in allow))


def assert_pure(paths: Iterable[Path], forbidden: Iterable[str], allow: Iterable[str] = ()) -> int:
    """Fail naming every file that imports a forbidden module; returns how many files were checked."""
    forbidden, allow = list(forbidden), list(allow)
    bad = {}
    checked = 0
    for path in paths:
        found = forbidden_imports(path, forbidden, allow)
        if found:
            bad[str(path.resolve().relative_to(ROOT))] = found
        checked += 1
    assert checked, "no files to check"
    assert not bad, f"pure modules import what they must not: {bad}"
    return checked


def import_cycle(paths: Iterable[Path]) -> list[str] | None:
    """An import cycle among the modules at ``paths`` (``[a, b, a]``), or None. Imports made only for
    type checking count: a cycle there still ties the two modules into one."""
    modules = {module_name(path): path for path in paths}
    graph = {name: sorted(m for m in imported_modules(path) if m in modules and m != name)
             for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> list[str] | None:
        if name in trail:
            return trail[trail.index(name):] + [name]
        if name in done:
            return None
        for imported in graph[name]:
            cycle = visit(imported, [*trail, name])
            if cycle:
                return cycle
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None
