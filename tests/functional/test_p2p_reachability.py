"""Reachability: a node behind a proxy (a TCP forwarder on 127.0.0.1) announces the proxy's address, its
peers pass that address on, a stranger dials it there and the node sees it is reachable; a node that
nobody dials says so in /api/status, keeps more outbound peers and leaves the DHT's routing tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from p2pool.p2p.peers import PeerConfig
from p2pool.p2p.reachability import ReachabilityConfig
from tests.functional.federation import federation, p2p_addr, peer_id, wait_for


async def forward(target: Callable[[], int], *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """A TCP proxy on 127.0.0.1: every connection to its port is relayed to port ``target()``."""

    async def pump(source: trio.SocketStream, sink: trio.SocketStream) -> None:
        try:
            while data := await source.receive_some(65536):
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await sink.aclose()

    async def relay(client: trio.SocketStream) -> None:
        server = await trio.open_tcp_stream("127.0.0.1", target())
        async with client, server, trio.open_nursery() as nursery:
            nursery.start_soon(pump, client, server)
            nursery.start_soon(pump, server, client)

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(relay, listeners)


def port_of(addr: str) -> int:
    return int(addr.split("/tcp/")[1].split("/")[0])


async def test_a_node_behind_a_proxy_is_dialled_at_its_announced_address(tmp_path):
    async with federation(tmp_path) as fed:
        seed = await fed.add_node(seed=True, p2p={"peers": PeerConfig(maintain_interval=0.5, target_outbound=0)})
        behind: list[int] = []
        proxy = await fed.nursery.start(forward, lambda: behind[0])
        announced = f"/ip4/127.0.0.1/tcp/{proxy}"
        hidden = await fed.add_node(seed, seed=True, p2p={"peers": PeerConfig(maintain_interval=0.5, target_outbound=1),
                                                          "announce": (announced,)})
        behind.append(port_of(p2p_addr(hidden)))
        assert hidden.status()["p2p"]["advertised"] == [f"{announced}/p2p/{peer_id(hidden)}"]
        await wait_for(lambda: peer_id(hidden) in seed.p2p.peers.connected(), "the hidden node to reach the seed")
        assert seed.p2p.peers.peer_addrs(peer_id(hidden)) == [f"{announced}/p2p/{peer_id(hidden)}"]
        assert hidden.status()["p2p"]["reachability"]["status"] == "unknown"

        # A stranger told only of the seed learns the announced address and dials the node through the proxy.
        stranger = await fed.add_node(seed, seed=True, p2p={"peers": PeerConfig(maintain_interval=0.5)})
        await wait_for(lambda: peer_id(hidden) in stranger.p2p.peers.outbound, "the stranger to dial the hidden node")
        assert stranger.p2p.book.get(peer_id(hidden)) == [f"{announced}/p2p/{peer_id(hidden)}"]
        await wait_for(lambda: hidden.status()["p2p"]["reachability"]["status"] == "reachable",
                       "the hidden node to see it is reachable")
        assert peer_id(stranger) in hidden.p2p.peers.inbound


async def test_a_node_nobody_dials_says_so_keeps_more_outbound_peers_and_leaves_routing_tables(tmp_path):
    quick = ReachabilityConfig(grace=2.0)
    async with federation(tmp_path) as fed:
        # Seeds that never dial out: nobody will ever dial the node below.
        seeds = [await fed.add_node(seed=True, p2p={"peers": PeerConfig(maintain_interval=0.5, target_outbound=0)})
                 for _ in range(2)]
        lonely = await fed.add_node(*seeds, seed=True, p2p={"peers": PeerConfig(
            maintain_interval=0.5, target_outbound=2, outbound_when_unreachable=5, reachability=quick)})
        assert lonely.p2p.peers.target() == 2
        await wait_for(lambda: lonely.status()["p2p"]["reachability"]["status"] == "unreachable",
                       "the node to find nobody dials it", 30)
        status = lonely.status()["p2p"]
        assert "no peer has connected to us" in status["reachability"]["reason"]
        assert status["target_outbound"] == 5 and lonely.p2p.peers.target() == 5
        await wait_for(lambda: lonely.status()["p2p"]["discovery"]["mode"] == "client", "DHT client mode")
        assert all(s.status()["p2p"]["reachability"]["status"] == "reachable" for s in seeds)
