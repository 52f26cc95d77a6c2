"""Connection limits on a real node on 127.0.0.1, with loopback not exempt (so that one machine can play
many strangers): connections per IP capped; every established TCP connection on the P2P port is one
the peer manager knows and counts; a peer of another protocol is closed within a second each time it
comes back, as a libp2p host or as a plain TCP client redialling every 250 ms."""

from __future__ import annotations

import statistics
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import multiaddr
import psutil
import trio
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.config import RetryConfig
from libp2p.peer.id import ID

from p2pool.p2p.host import build_host, close_host, parse_peer, stop_auto_connector
from p2pool.p2p.limits import LimitConfig, Stage
from p2pool.p2p.messages import FrameDecoder, GetTip
from p2pool.p2p.peers import PeerConfig
from p2pool.p2p.stream import StreamClosed, read_message, write_message
from tests.functional.federation import federation, p2p_addr, wait_for
from tests.functional.framework import TIMEOUT_FACTOR

LIMITS = LimitConfig(max_per_ip=3, max_per_subnet=3, exempt_loopback=False, handshake_timeout=2.0, strikes=3,
                     strike_window=30.0, refuse_for=30.0)
LIMITED = {"peers": PeerConfig(maintain_interval=0.5, limits=LIMITS)}
QUICK = {"peers": PeerConfig(maintain_interval=0.5)}
LISTEN = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]


def p2p_port(node) -> int:
    return int(multiaddr.Multiaddr(p2p_addr(node)).value_for_protocol("tcp"))


def established(port: int) -> set[tuple[str, int]]:
    """The remote ends of this process's established TCP connections on local port ``port``."""
    return {(c.raddr.ip, c.raddr.port) for c in psutil.Process().net_connections(kind="tcp")
            if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port and c.raddr}


class Watch:
    """Samples the node's P2P port: whether a connection stays unknown to the peer manager (one just
    accepted may be sampled before its handler ran: unknown in two samples in a row is a failure),
    and the most connections seen at once."""

    def __init__(self, node) -> None:
        self.node = node
        self.port = p2p_port(node)
        self.most = 0
        self.untracked: set[tuple[str, int]] = set()
        self._unknown: set[tuple[str, int]] = set()

    def sample(self) -> None:
        now = established(self.port)
        known = self.node.p2p.peers.endpoints()
        unknown = {e for e in now if e not in known}
        self.untracked |= unknown & self._unknown
        self._unknown = unknown
        self.most = max(self.most, len(now - unknown))

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            self.sample()
            await trio.sleep(0.1)


@asynccontextmanager
async def foreign_host(key_pair) -> AsyncIterator[IHost]:
    """A libp2p host (TCP, Noise, yamux) that does not speak our sync protocol. Its dials are not retried
    (libp2p retries a refused dial three times, 0.1 to 0.4 s apart): each is one TCP connection."""
    host = build_host(key_pair, LISTEN)
    host.get_network().retry_config = RetryConfig(max_retries=0)  # type: ignore[attr-defined]  # Swarm's
    async with host.run(LISTEN):
        await stop_auto_connector(host)
        try:
            yield host
        finally:
            with trio.move_on_after(5):
                await close_host(host)


async def test_connections_per_ip_are_capped_and_every_connection_on_the_port_is_a_counted_peer(tmp_path):
    async with federation(tmp_path) as fed:
        node = await fed.add_node(seed=True, p2p=LIMITED)
        watch = Watch(node)
        await fed.nursery.start(watch.run)
        others = [await fed.add_node(node, seed=True, p2p=QUICK) for _ in range(5)]
        await wait_for(lambda: len(node.p2p.peers.inbound) == 3, "three of the five to get in")
        await wait_for(lambda: node.p2p.peers.table.refusals, "the others to be refused")
        refusals = node.status()["p2p"]["connections"]["refusals"]
        assert set(refusals) <= {"per_ip", "per_subnet"}, refusals
        with trio.move_on_after(3):  # the refused keep trying, backing off
            await trio.sleep_forever()
        assert watch.most <= 3, f"{watch.most} connections at once on the P2P port"
        assert not watch.untracked, f"connections unknown to the peer manager: {watch.untracked}"
        # At rest, what is established on the port is exactly the counted inbound peers' connections.
        peers = {(c.ip, c.port) for c in node.p2p.peers.table.connections() if c.inbound and c.stage is Stage.PEER}
        assert established(watch.port) == peers and len(peers) == 3
        assert len(node.p2p.peers.inbound) == 3 and node.status()["peers"] >= 3
        refused = [n for n in others if n.p2p.peer_id not in node.p2p.peers.connected()]
        assert len(refused) == 2
        def backing_off() -> bool:  # each refused node has counted a failed dial (one may be mid-dial now)
            return all((info := n.p2p.book.info(node.p2p.peer_id)) is not None and info.failures >= 1
                       for n in refused)

        await wait_for(backing_off, "the refused nodes to back off")


def assert_closed_within_a_second(times: list[float]) -> None:
    """Closed within a second as a rule, and every time by the node's own decision.

    No timer is involved (the node closes as soon as it learns the protocol is not ours, or at once for a
    refused address or peer), so the times are scheduling alone: a few tens of ms here. The median holds
    the issue's second; a single close on a loaded machine (CI's 2 cores under the whole suite) may take
    longer, and is bounded only well below the test's own 10 s wait, so it still fails if the node never
    closes by itself (the handshake deadline, 2 s here, would be what closed it then).
    """
    shown = [round(t, 2) for t in sorted(times)]
    print(f"closed after {shown} s")
    assert statistics.median(times) < 1.0, f"closed after {shown} s"
    assert max(times) < 1.9 * max(TIMEOUT_FACTOR, 1.0), f"closed after {shown} s"


async def test_a_libp2p_peer_of_another_protocol_is_closed_within_a_second_each_time_it_comes_back(tmp_path):
    key = create_new_key_pair()
    async with federation(tmp_path) as fed:
        node = await fed.add_node(seed=True, p2p=LIMITED)
        honest = await fed.add_node(node, seed=True, p2p=QUICK)
        watch = Watch(node)
        await fed.nursery.start(watch.run)
        info = parse_peer(p2p_addr(node))
        node_id = ID.from_base58(node.p2p.peer_id)
        times, answers = [], 0
        for _ in range(12):  # 3 s and more of redials, 250 ms apart (the same peer, a fresh dial each time)
            async with foreign_host(key) as foreign:
                started = trio.current_time()
                try:
                    with trio.fail_after(5):
                        await foreign.connect(info)
                    # How long the node holds the connection: from when it is up (the dial itself, libp2p's
                    # handshakes on both ends, is the foreign host's own time).
                    started = trio.current_time()
                    answers += await ask_tip(foreign, node_id)
                except (BaseLibp2pError, OSError, trio.TooSlowError):
                    pass  # refused before the connection was up
                with trio.fail_after(10):
                    while foreign.get_network().get_connections(node_id):
                        await trio.sleep(0.01)
                times.append(trio.current_time() - started)
            await trio.sleep(0.25)
        peer = str(ID.from_pubkey(key.public_key))
        assert_closed_within_a_second(times)
        assert answers <= 1, f"the node answered {answers} requests from a peer of another protocol"
        assert peer not in node.p2p.peers.connected()
        assert node.p2p.peers.table.is_refused_peer(peer, trio.current_time())
        assert node.status()["p2p"]["connections"]["refusals"]["refused_peer"] >= 10
        assert not watch.untracked, f"connections unknown to the peer manager: {watch.untracked}"
        assert node.p2p.peer_id in honest.p2p.peers.connected()  # and its own peers are not disturbed


async def ask_tip(host: IHost, peer: ID) -> int:
    """Send GetTip on our sync protocol, as the outside test's peer did; 1 if it was answered."""
    try:
        with trio.move_on_after(1):
            stream = await host.new_stream(peer, [host_sync_protocol()])
            await write_message(stream, GetTip())
            return int(await read_message(stream, FrameDecoder()) is not None)
    except (BaseLibp2pError, StreamClosed, OSError):
        pass
    return 0


def host_sync_protocol():
    from p2pool.p2p.host import ProtocolNames
    from sharechain.params import DEVNET

    return ProtocolNames.for_network(DEVNET).sync


GARBAGE = b"GET / HTTP/1.1\r\nHost: otedama\r\nUser-Agent: not-libp2p\r\n\r\n" * 4


async def test_a_tcp_client_of_another_protocol_is_closed_within_a_second_and_then_refused_at_once(tmp_path):
    async with federation(tmp_path) as fed:
        node = await fed.add_node(seed=True, p2p=LIMITED)
        watch = Watch(node)
        await fed.nursery.start(watch.run)
        port = p2p_port(node)
        times = []
        for _ in range(12):  # 3 s of redials, 250 ms apart
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            started = trio.current_time()
            with trio.fail_after(5):
                try:
                    await stream.send_all(GARBAGE)
                    while await stream.receive_some(4096):
                        pass
                except (trio.BrokenResourceError, OSError):
                    pass  # reset by the node
            times.append(trio.current_time() - started)
            await stream.aclose()
            await trio.sleep(0.25)
        assert_closed_within_a_second(times)
        status = node.status()["p2p"]["connections"]
        assert status["refused_addresses"] == 1 and status["refusals"]["refused_address"] >= 5
        assert not watch.untracked


async def test_a_silent_tcp_client_holds_a_handshake_slot_only_until_its_deadline(tmp_path):
    async with federation(tmp_path) as fed:
        node = await fed.add_node(seed=True, p2p=LIMITED)
        silent = await trio.open_tcp_stream("127.0.0.1", p2p_port(node))
        await wait_for(lambda: node.p2p.peers.table.count(Stage.HANDSHAKE) == 1, "the silent client to be counted")
        assert node.status()["p2p"]["connections"]["handshaking"] == 1
        started = trio.current_time()
        with trio.fail_after(LIMITS.handshake_timeout + 1):
            while await silent.receive_some(4096):
                pass
        assert trio.current_time() - started <= LIMITS.handshake_timeout + 1
        assert node.p2p.peers.table.count(Stage.HANDSHAKE) == 0
        await silent.aclose()
