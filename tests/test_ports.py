"""The test servers' ports: outside the kernel's ephemeral range, never the same twice, never one in use."""

import socket
from pathlib import Path

from tests import ports


def test_ports_are_free_distinct_and_below_the_ephemeral_range():
    seen = {ports.free_port() for _ in range(50)}
    assert len(seen) == 50
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(port < low for port in seen)
    for port in list(seen)[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # it was free when handed out, and nobody took it since


def test_a_port_in_use_is_skipped(monkeypatch):
    # The second candidate comes from this worker's own slice: a neighbour of the held port is in the
    # ephemeral range, where any connection of the machine may be using it (seen on CI).
    spare = ports.free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        held = holder.getsockname()[1]
        monkeypatch.setattr(ports, "_ports", iter([held, spare]))
        assert ports.free_port() == spare
