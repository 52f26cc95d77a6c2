"""The P2P cores (codec, sync planning) do no I/O: no sockets, event loops, clocks, libp2p or storage."""

import ast
from pathlib import Path

import p2pool.p2p

FORBIDDEN = {"trio", "socket", "plyvel", "libp2p", "multiaddr", "prometheus_client", "time", "asyncio", "random",
             "httpx", "sqlite3"}
CORES = ("messages.py", "sync.py", "limits.py", "reachability.py")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_p2p_cores_do_no_io():
    root = Path(p2pool.p2p.__file__).parent
    for name in CORES:
        bad = imported_modules(root / name) & FORBIDDEN
        assert not bad, f"p2pool/p2p/{name} imports {sorted(bad)}"
    # And they import nothing from the adapters around them.
    for name in CORES:
        source = (root / name).read_text()
        for adapter in ("host", "gossip", "service", "peers", "sync_client", "sync_server", "stream", "admission",
                        "discovery", "seedlist", "connections", "dials"):
            assert f"p2pool.p2p.{adapter}" not in source, f"{name} imports the adapter {adapter}"
