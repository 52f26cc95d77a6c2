"""Discovery and connection limits: nodes told only of a seed find each other by peer exchange,
remember them, reconnect after a restart without being told again; the inbound cap and the outbound
target hold."""

from __future__ import annotations

from dataclasses import replace

import trio

from p2pool.p2p.limits import Refusal
from p2pool.p2p.peers import PeerConfig
from tests.functional.federation import federation, peer_id, wait_for

FAST = {"peers": PeerConfig(maintain_interval=0.5)}


async def test_nodes_find_each_other_and_reconnect_after_restart(tmp_path):
    async with federation(tmp_path) as fed:
        seed = await fed.add_node(seed=True, p2p=FAST)
        nodes = [await fed.add_node(seed, seed=True, p2p=FAST) for _ in range(3)]
        everyone = [seed, *nodes]

        def full_mesh() -> bool:
            return all({peer_id(o) for o in everyone if o is not n} <= set(n.p2p.peers.connected()) for n in nodes)

        await wait_for(full_mesh, "a full mesh learned by peer exchange")
        first = nodes[0]
        book = dict(first.p2p.book.all())
        assert {peer_id(n) for n in nodes[1:]} <= set(book)
        old_id = peer_id(first)

        first.config = replace(first.config, bootstrap=())  # restarted with no peer given: the address book is enough
        again = await fed.restart_node(first)
        assert peer_id(again) == old_id
        assert again.p2p.config.bootstrap == ()
        await wait_for(lambda: {peer_id(o) for o in everyone if o is not first} <= set(again.p2p.peers.connected()),
                       "the restarted node to reconnect to the peers it knew")


async def test_inbound_cap_and_outbound_target_hold(tmp_path):
    async with federation(tmp_path) as fed:
        seed = await fed.add_node(seed=True, p2p={"peers": PeerConfig(maintain_interval=0.5, max_inbound=2,
                                                                      target_outbound=0)})
        others = [await fed.add_node(seed, seed=True, p2p={"peers": PeerConfig(maintain_interval=0.5, target_outbound=1)})
                  for _ in range(3)]
        most_inbound = 0

        def watch() -> bool:
            nonlocal most_inbound
            most_inbound = max(most_inbound, len(seed.p2p.peers.inbound))
            return len(seed.p2p.peers.inbound) == 2

        await wait_for(watch, "the seed to fill its inbound slots")
        # A few maintenance rounds later the cap still holds and nobody dials beyond its target.
        with trio.move_on_after(2):
            await wait_for(lambda: watch() and False, "never")
        assert most_inbound == 2
        assert all(len(n.p2p.peers.outbound) <= 1 for n in others)
        refused = [n for n in others if peer_id(n) not in seed.p2p.peers.connected()]
        assert len(refused) == 1
        # The refused node backs off instead of redialling the full seed every maintenance round.
        record = refused[0].p2p.book.info(peer_id(seed))
        assert record is not None and record.failures >= 1
        tries = seed.p2p.peers.table.refusals.get(Refusal.INBOUND_CAP, 0)
        with trio.move_on_after(2):  # four maintenance rounds
            await trio.sleep_forever()
        assert seed.p2p.peers.table.refusals.get(Refusal.INBOUND_CAP, 0) - tries <= 1
