"""Two nodes whose networks differ in one consensus constant only (same name, devnet) do not become
peers, and each says why: its network id, hashed over every constant, differs."""

from __future__ import annotations

from dataclasses import replace

from p2pool.p2p.network_match import announces_another, why_foreign
from sharechain.params import DEVNET
from tests.functional.federation import federation, peer_id, wait_for

ONE_MORE_UNCLE_LEVEL = replace(DEVNET, uncle_depth=DEVNET.uncle_depth + 1)


async def test_a_node_with_one_other_constant_is_refused_and_told_why(tmp_path):
    assert ONE_MORE_UNCLE_LEVEL.network_id != DEVNET.network_id
    async with federation(tmp_path) as fed:
        ours = await fed.add_node(name="ours")
        other = await fed.add_node(ours, name="other", params=ONE_MORE_UNCLE_LEVEL)

        def refused(node, by) -> str | None:
            found = [f["reason"] for f in node.status()["p2p"]["foreign"] if f["id"] == peer_id(by)]
            return found[0] if found and peer_id(by) not in node.p2p.peers.connected() else None

        reason = await wait_for(lambda: refused(other, ours), "the other node to refuse ours")
        assert "other consensus rules" in reason and DEVNET.network_id.hex() in reason
        assert ONE_MORE_UNCLE_LEVEL.network_id.hex() in reason
        # The dialled node hears the same when it asks the dialler anything, and keeps no peer either.
        await wait_for(lambda: not ours.p2p.peers.connected() and not other.p2p.peers.connected(),
                       "neither node to keep the other as a peer")
        assert ours.status()["peers"] == other.status()["peers"] == 0


def test_the_reason_names_what_differs():
    ours = "/otedama/devnet/aaaa/sync/1.0.0"
    assert "other consensus rules" in why_foreign(ours, ["/ipfs/id/1.0.0", "/otedama/devnet/bbbb/sync/1.0.0"])
    assert "regtest network" in why_foreign(ours, ["/otedama/regtest/cccc/sync/1.0.0"])
    assert "no Otedama" in why_foreign(ours, ["/ipfs/ping/1.0.0"])
    assert "version" in why_foreign(ours, ["/otedama/devnet/aaaa/sync/2.0.0"])


def test_another_otedama_sync_protocol_without_ours_is_foreign_for_sure():
    ours = "/otedama/devnet/aaaa/sync/1.1.0"
    assert announces_another(ours, ["/ipfs/id/1.0.0", "/otedama/devnet/bbbb/sync/1.1.0"])
    assert announces_another(ours, ["/otedama/devnet/aaaa/sync/1.0.0"])  # another version only
    assert not announces_another(ours, ["/otedama/devnet/bbbb/sync/1.1.0", ours])  # ours among them
    assert not announces_another(ours, ["/ipfs/id/1.0.0", "/meshsub/1.1.0"])  # no Otedama: a stream must tell
    assert not announces_another(ours, [])  # identify has not answered
