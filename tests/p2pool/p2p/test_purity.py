"""The P2P cores (codec, sync planning, join plans) do no I/O: no sockets, event loops, clocks, libp2p or storage."""

from pathlib import Path

import p2pool.p2p
from tests.purity import IO, assert_pure

CORES = ("messages.py", "sync.py", "limits.py", "reachability.py", "join.py", "clocks.py")
# The adapters around the cores, which the cores must not import.
ADAPTERS = {f"p2pool.p2p.{name}" for name in ("host", "gossip", "service", "peers", "sync_client", "sync_server",
                                                "stream", "admission", "discovery", "seedlist", "connections", "dials",
                                                "joiner")} | {"p2pool.storage", "p2pool.intake"}


def test_p2p_cores_do_no_io():
    root = Path(p2pool.p2p.__file__).parent
    assert_pure([root / name for name in CORES], IO | ADAPTERS)
