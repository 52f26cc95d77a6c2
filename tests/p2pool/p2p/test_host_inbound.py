"""A node keeps accepting inbound libp2p connections however many came and went before.

libp2p 0.8.1 counts every inbound connection against ``max_connections`` for the life of the host
(found by benchmarks/kill9_loop.py: after its peer restarted 56 times a node refused everyone). The
node's own inbound path (:mod:`p2pool.p2p.admission`, installed by the connection table) takes its
place; here it serves more connections over time than libp2p's cap, one after another.
"""

from __future__ import annotations

import multiaddr
import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.peerinfo import info_from_p2p_addr

from p2pool.p2p.connections import ConnectionEvents, Connections
from p2pool.p2p.host import build_host, close_host, stop_auto_connector
from p2pool.p2p.limits import LimitConfig

LISTEN = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]


async def test_more_inbound_connections_over_time_than_the_connection_limit() -> None:
    server = build_host(create_new_key_pair(), LISTEN, max_connections=0)  # libp2p's own cap: 16
    gone: list[object] = []
    events = ConnectionEvents(identified=lambda c: None, foreign=lambda p: None, gone=gone.append,
                              banned=lambda p: False)
    connections = Connections(server, LimitConfig(), max_inbound=4, events=events, identify_protocol=None,
                              disconnect_timeout=5.0)
    async with server.run(LISTEN), trio.open_nursery() as nursery:
        await stop_auto_connector(server)
        await nursery.start(connections.run)
        address = info_from_p2p_addr(server.get_addrs()[0])
        for _ in range(20):
            client = build_host(create_new_key_pair(), LISTEN)
            async with client.run(LISTEN):
                await stop_auto_connector(client)
                with trio.fail_after(20):
                    await client.connect(address)
                assert client.get_network().get_connections(server.get_id())
                with trio.move_on_after(5):
                    await close_host(client)
        with trio.move_on_after(5):
            await close_host(server)
        nursery.cancel_scope.cancel()
