"""Misbehaving peers (a real libp2p host, scripted) are scored, disconnected and banned; bans survive a
restart; their shares never reach honest nodes; the honest network keeps going. Nodes of different
networks refuse each other."""

from __future__ import annotations

import json
import time

import multiaddr
import trio
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo

from kernels.factory import make_scanner
from p2pool.p2p.messages import GetSharesByHash, GetTip
from p2pool.p2p.peers import PeerConfig
from p2pool.p2p.request import RequestFailed
from sharechain.bitcoin.address import encode_segwit
from sharechain.bitcoin.hashing import hash160
from sharechain.bitcoin.script import witness_program
from sharechain.params import DEVNET, REGTEST
from tests.functional.badpeer import BadPeer, ConnectionGone, malformed_frame, oversized_frame_header
from tests.functional.federation import (
    federation,
    p2p_addr,
    peer_id,
    share_set,
    sync_sharechains,
    wait_for,
)
from tests.functional.framework import TIMEOUT_FACTOR
from tests.functional.sharegen import grind, make_chain

VALUE = 50_0000_0000
THIEF = witness_program(0, b"\x66" * 20)


def address(n: int) -> str:
    return encode_segwit(DEVNET.address_format.bech32_hrp, 0, hash160(b"honest" + bytes([n])))


def forge(node, tag: int):
    """A share with real proof of work on ``node``'s tip that pays everything to the thief."""
    info, _ = node.chain.prepare(THIEF, int(time.time()), VALUE)
    return grind(info, [(THIEF, VALUE)], DEVNET, make_scanner("numba", threads=1), tag=bytes([tag]) * 4)


def hung_up(node, bad: BadPeer) -> bool:
    """``node`` has dropped every connection to ``bad`` (the bad side may take longer to notice)."""
    gone = not node.p2p.host.get_network().get_connections(ID.from_base58(bad.peer_id))
    return gone and bad.peer_id not in node.p2p.peers.connected()


async def start_bad_peer(fed, params=DEVNET) -> BadPeer:
    bad = BadPeer(params)
    await fed.nursery.start(bad.run)
    return bad


async def test_forger_is_banned_and_its_shares_reach_no_honest_node(tmp_path):
    history = make_chain(20)
    async with federation(tmp_path) as fed:
        n0 = await fed.add_node(shares=history)
        nodes = [n0, await fed.add_node(n0, shares=history), await fed.add_node(n0, shares=history)]
        fed.mine(nodes[1], address(1))
        bad = await start_bad_peer(fed)
        forged = []
        # Each invalid share costs the forger dearly; disconnected, it comes back for more until banned.
        def score() -> float:
            return n0.p2p.peers.scores.score(bad.peer_id, trio.current_time())

        for i in range(8):
            if n0.p2p.peers.is_banned(bad.peer_id):
                break
            if hung_up(n0, bad):
                assert await bad.connect(p2p_addr(n0))
            try:
                await bad.wait_mesh(peer_id(n0))
            except ConnectionGone:
                continue  # hung up on before the topic was joined: dial again
            before = score()
            forged.append(forge(n0, i))
            await bad.publish(forged[-1].serialize())
            await wait_for(lambda before=before: score() < before - 10 or n0.p2p.peers.is_banned(bad.peer_id),
                           "a verdict")
        await wait_for(lambda: n0.p2p.peers.is_banned(bad.peer_id), "the forger to be banned")
        await wait_for(lambda: hung_up(n0, bad), "the forger to be disconnected")
        ban = n0.p2p.peers.bans.get(bad.peer_id, time.time())
        assert ban is not None and "invalid share" in ban.reason
        assert n0.status()["p2p"]["banned"] == 1
        # (written behind the ban, from a worker thread)
        await wait_for(lambda: bad.peer_id in json.dumps(json.loads((n0.config.datadir / "bans.json").read_text())),
                       "the ban to be written")

        # The honest network keeps mining and agreeing; no forged share is anywhere.
        height = n0.chain.tip.height
        await wait_for(lambda: all(n.chain.tip.height >= height + 3 for n in nodes), "more honest shares")
        await fed.stop_mining()
        await sync_sharechains(nodes)
        for node in nodes:
            assert not {s.hash for s in forged} & share_set(node)
            assert all(s.hash not in node.chain.orphans for s in forged)
            assert all(node.chain.get(h).payout_script != THIEF for h in share_set(node))

        # Coming back is refused, also after the node restarts (the ban is on disk).
        await bad.connect(p2p_addr(n0))
        await wait_for(lambda: hung_up(n0, bad), "the banned peer to be turned away")
        assert bad.peer_id not in n0.p2p.peers.connected()
        n0 = await fed.restart_node(n0)
        assert n0.p2p.peers.is_banned(bad.peer_id)
        await bad.connect(p2p_addr(n0))
        await wait_for(lambda: hung_up(n0, bad), "the banned peer to be turned away again")
        assert bad.peer_id not in n0.p2p.peers.connected()


async def test_malformed_oversized_and_flooding_peers_are_banned(tmp_path):
    history = make_chain(20)
    async with federation(tmp_path) as fed:
        n0 = await fed.add_node(shares=history, seed=True, p2p={"request_rate": (2.0, 5.0)})
        target = peer_id(n0)

        async def abuse(what: str, act) -> BadPeer:
            bad = await start_bad_peer(fed)
            assert await bad.connect(p2p_addr(n0))
            for _ in range(60):
                if n0.p2p.peers.is_banned(bad.peer_id):
                    break
                try:
                    await act(bad)
                except ConnectionGone:  # disconnected but not banned yet: it comes back for more
                    await bad.connect(p2p_addr(n0))
            await wait_for(lambda: n0.p2p.peers.is_banned(bad.peer_id), f"the {what} peer to be banned")
            await wait_for(lambda: hung_up(n0, bad), f"the {what} peer to be disconnected")
            assert what in n0.p2p.peers.bans.get(bad.peer_id, time.time()).reason
            return bad

        await abuse("malformed message", lambda bad: bad.send(target, malformed_frame()))
        await abuse("oversized message", lambda bad: bad.send(target, oversized_frame_header()))
        await abuse("flood", lambda bad: bad.request(target, GetTip()))
        counter = iter(range(1000))

        async def garbage(bad: BadPeer) -> None:
            if hung_up(n0, bad):
                raise ConnectionGone("hung up on")
            await bad.wait_mesh(target)
            before = n0.p2p.peers.scores.score(bad.peer_id, trio.current_time())
            await bad.publish(b"\x01not a share" + bytes([next(counter)]))
            # Gossip is not delivered before the node has heard the peer's subscription (a peer just dialed
            # again, on a loaded machine): a piece not judged in 15 s is sent again by the loop in abuse().
            with trio.move_on_after(15 * TIMEOUT_FACTOR):
                while not (n0.p2p.peers.scores.score(bad.peer_id, trio.current_time()) < before - 10
                           or hung_up(n0, bad)):
                    await trio.sleep(0.05)

        await abuse("malformed message", garbage)
        assert n0.status()["p2p"]["banned"] == 4
        # An honest peer is still served.
        honest = await fed.add_node(n0)
        await sync_sharechains([n0, honest])
        assert not n0.p2p.peers.is_banned(peer_id(honest))


async def test_a_connection_made_around_a_ban_is_not_kept(tmp_path):
    """A ban can land while a connection to its peer is being made (our own dial under way, or an
    inbound one past the gate's check), or be put on the list without a disconnect (a reloaded file):
    neither kind of connection is kept."""
    async with federation(tmp_path) as fed:
        n0 = await fed.add_node(shares=make_chain(5), p2p={"peers": PeerConfig(maintain_interval=0.5)})
        bad = await start_bad_peer(fed)
        # Our dial, finished after the ban: closed as it comes up.
        n0.p2p.peers.bans.ban(bad.peer_id, time.time() + 600, "test: banned during a dial")
        bad_addr = multiaddr.Multiaddr(f"{bad.host.get_addrs()[0]}")
        await n0.p2p.host.connect(PeerInfo(ID.from_base58(bad.peer_id), [bad_addr]))
        await wait_for(lambda: hung_up(n0, bad), "our dial to the banned peer to be closed")
        # Connected and counted, then banned without a word to the connection: the next sweep closes it.
        n0.p2p.peers.bans.unban(bad.peer_id)
        assert await bad.connect(p2p_addr(n0))
        await wait_for(lambda: bad.peer_id in n0.p2p.peers.connected(), "the peer to be counted")
        n0.p2p.peers.bans.ban(bad.peer_id, time.time() + 600, "test: put on the list")
        await wait_for(lambda: hung_up(n0, bad), "the banned peer's connection to be closed")


async def test_an_answer_from_a_peer_banned_while_it_was_asked_is_dropped(tmp_path):
    """A ban that lands while a request is in flight (the answer on its way, the connection not yet closed):
    the answer is not taken."""
    async with federation(tmp_path) as fed:
        n0 = await fed.add_node(shares=make_chain(5))
        bad = await start_bad_peer(fed)
        assert await bad.connect(p2p_addr(n0))
        await wait_for(lambda: bad.peer_id in n0.p2p.peers.connected(), "the peer to be counted")
        bad.hold = trio.Event()
        asked = GetSharesByHash((b"\x42" * 32,))
        outcome: list[object] = []

        async def ask() -> None:
            try:
                outcome.append(await n0.p2p.client.request(bad.peer_id, asked))
            except RequestFailed as exc:
                outcome.append(exc)

        fed.nursery.start_soon(ask)
        await wait_for(lambda: asked in bad.received, "the request to reach the peer")
        n0.p2p.peers.bans.ban(bad.peer_id, time.time() + 600, "test: banned while asked")
        bad.hold.set()
        await wait_for(lambda: outcome, "the request to end")
        assert isinstance(outcome[0], RequestFailed) and "banned while it was asked" in str(outcome[0])


async def test_nodes_of_different_networks_refuse_each_other(tmp_path):
    async with federation(tmp_path) as fed:
        dev = await fed.add_node(shares=make_chain(10))
        reg = await fed.add_node(dev, network_name="regtest")
        fed.mine(dev, address(1))
        fed.mine(reg, encode_segwit(REGTEST.address_format.bech32_hrp, 0, hash160(b"regtest miner")))
        # (each asks the other for its protocol; the first to hear "no" hangs up, and the other may then
        # hear nothing more)
        await wait_for(lambda: peer_id(dev) in reg.p2p.peers.foreign or peer_id(reg) in dev.p2p.peers.foreign,
                       "one of them to find the other foreign")
        await wait_for(lambda: not reg.p2p.peers.connected() and not dev.p2p.peers.connected(), "both to hang up")
        await wait_for(lambda: len(share_set(reg)) >= 3 and len(share_set(dev)) >= 13, "both to mine")
        assert not share_set(reg) & share_set(dev)
        # A peer that pushes devnet shares on the regtest topic is refused (the shares commit to devnet).
        bad = await start_bad_peer(fed, REGTEST)
        assert await bad.connect(p2p_addr(reg))
        await bad.wait_mesh(peer_id(reg))
        for share in make_chain(3):
            await bad.publish(share.serialize())
        await wait_for(lambda: reg.p2p.peers.is_banned(bad.peer_id), "the cross-network peer to be banned")
        await fed.stop_mining()
        reg_scripts = {reg.chain.get(h).payout_script for h in share_set(reg)}
        dev_scripts = {dev.chain.get(h).payout_script for h in share_set(dev)}
        assert not reg_scripts & dev_scripts
