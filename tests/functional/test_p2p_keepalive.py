"""A peer that stops answering is dropped by the keepalive (p2pool.p2p.keepalive); a quiet one that
answers is kept. The dead peer is a real one behind a TCP relay that stops passing bytes while keeping
both sockets open: a machine gone without a FIN, or a peer whose reader died."""

from __future__ import annotations

import multiaddr
import trio
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo

from p2pool.p2p.keepalive import KeepaliveConfig
from p2pool.p2p.peers import PeerConfig
from tests.functional.federation import federation, p2p_addr, peer_id, wait_for
from tests.functional.sharegen import make_chain
from tests.functional.test_p2p_misbehaving import hung_up, start_bad_peer

QUICK = {"peers": PeerConfig(maintain_interval=0.5, keepalive=KeepaliveConfig(interval=1.0, timeout=1.5, misses=2))}


class Relay:
    """127.0.0.1:<port> -> ``target``, byte for byte, until :meth:`freeze` (then nothing passes, nothing closes)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = trio.Event()
        self.port = 0

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            task_status.started()
            await trio.serve_listeners(self._pair, listeners, handler_nursery=nursery)

    async def _pair(self, client: trio.SocketStream) -> None:
        async with client, await trio.open_tcp_stream("127.0.0.1", self.target_port) as server, \
                trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, client, server)
            nursery.start_soon(self._pump, server, client)

    async def _pump(self, source: trio.SocketStream, sink: trio.SocketStream) -> None:
        while not self.frozen.is_set():
            try:
                data = await source.receive_some(65536)
            except trio.BrokenResourceError:
                return
            if not data:
                return
            if self.frozen.is_set():
                break
            await sink.send_all(data)
        await trio.sleep_forever()  # frozen: hold both sockets open, pass nothing


async def test_a_peer_that_stops_answering_is_dropped_and_a_quiet_one_is_kept(tmp_path):
    async with federation(tmp_path) as fed:
        n0 = await fed.add_node(shares=make_chain(5), p2p=QUICK)
        quiet = await start_bad_peer(fed)  # answers whatever it is asked, asks nothing itself
        assert await quiet.connect(p2p_addr(n0))
        await wait_for(lambda: quiet.peer_id in n0.p2p.peers.connected(), "the quiet peer to be counted")

        dead = await start_bad_peer(fed)
        bad_port = int(str(dead.host.get_addrs()[0]).split("/tcp/")[1].split("/")[0])
        relay = Relay(bad_port)
        await fed.nursery.start(relay.run)
        via_relay = multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{relay.port}")
        assert await n0.p2p.peers.connect(PeerInfo(ID.from_base58(dead.peer_id), [via_relay]), "test")
        relay.frozen.set()

        with trio.fail_after(30):
            started = trio.current_time()
            await wait_for(lambda: hung_up(n0, dead), "the silent peer to be dropped")
            took = trio.current_time() - started
        assert n0.status()["p2p"]["unresponsive_dropped"] == 1
        assert took >= 1.0, "not before it missed its probes"
        # The quiet peer was probed over those seconds, answered each time, and is still here.
        assert quiet.peer_id in n0.p2p.peers.connected()
        assert not n0.p2p.peers.is_banned(dead.peer_id), "unanswered probes are no offence"
        assert peer_id(n0) in {str(p) for p in quiet.host.get_network().connections}
