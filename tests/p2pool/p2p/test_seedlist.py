"""DNS seeds resolved through a real DNS server on 127.0.0.1 (UDP, answers built with dnspython), and a
node told only of a DNS seed connecting to the peer its TXT records name."""

from __future__ import annotations

from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import trio

from p2pool.p2p.peers import PeerConfig
from p2pool.p2p.seedlist import resolve, split_seeds, txt_lookup
from tests.functional.federation import federation, p2p_addr, peer_id, wait_for

PEER = "/ip4/203.0.113.5/tcp/9338/p2p/12D3KooWJdrweqGHMChAkt6amrCX71feRRYmfUBPGKLtmE82yn5b"
OTHER = "/ip4/203.0.113.6/tcp/9338/p2p/12D3KooWDpSX2FsLMdMnUCE8yw7f4hArBGeLoGY3pPmZnPVbCv6e"


async def dns_server(zone: dict[str, list[str]], asked: list[str], *, task_status: Any = trio.TASK_STATUS_IGNORED,
                     silent: bool = False) -> None:
    """Answer TXT queries for ``zone`` (name -> record texts) on a UDP port of 127.0.0.1."""
    with trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM) as sock:
        await sock.bind(("127.0.0.1", 0))
        task_status.started(f"127.0.0.1:{sock.getsockname()[1]}")
        while True:
            data, client = await sock.recvfrom(4096)
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            asked.append(name)
            if silent:
                continue
            reply = dns.message.make_response(query)
            if name in zone and question.rdtype == dns.rdatatype.TXT:
                reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT",
                                                        *(f'"{text}"' for text in zone[name])))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            await sock.sendto(reply.to_wire(), client)


async def test_dns_seeds_resolve_through_txt_records_nested_and_looped():
    zone = {"_dnsaddr.seeds.test": [f"dnsaddr={PEER}", "dnsaddr=/dnsaddr/more.seeds.test", "unrelated"],
            "_dnsaddr.more.seeds.test": [f"dnsaddr={OTHER}", "dnsaddr=/dnsaddr/seeds.test", f"dnsaddr={PEER}"]}
    asked: list[str] = []
    async with trio.open_nursery() as nursery:
        server = await nursery.start(dns_server, zone, asked)
        lookup = txt_lookup(server)
        assert await resolve(["seeds.test"], lookup) == [PEER, OTHER]
        assert asked == ["_dnsaddr.seeds.test", "_dnsaddr.more.seeds.test"]  # the loop is not followed
        assert await resolve(["nothing.test"], lookup) == []
        nursery.cancel_scope.cancel()


async def test_a_dns_server_that_does_not_answer_gives_nothing_in_time():
    async with trio.open_nursery() as nursery:
        server = await nursery.start(lambda **kw: dns_server({}, [], silent=True, **kw))
        with trio.fail_after(10):
            assert await resolve(["seeds.test"], txt_lookup(server, timeout=0.5)) == []
        nursery.cancel_scope.cancel()


def test_seed_entries_split_into_peers_and_dns_seeds():
    peers, names = split_seeds([PEER, "/dnsaddr/Seeds.Test", PEER])
    assert [str(p.peer_id) for p in peers] == [PEER.rsplit("/", 1)[1]] and names == ("seeds.test",)


async def test_a_node_told_only_of_a_dns_seed_connects_to_the_peer_it_lists(tmp_path):
    async with federation(tmp_path) as fed:
        listed = await fed.add_node(seed=True)
        zone = {"_dnsaddr.seeds.test": [f"dnsaddr={p2p_addr(listed)}"]}
        server = await fed.nursery.start(dns_server, zone, [])
        node = await fed.add_node(seed=True, p2p={"bootstrap": ("/dnsaddr/seeds.test",),
                                                  "peers": PeerConfig(maintain_interval=0.5, dns_nameserver=server)})
        await wait_for(lambda: peer_id(listed) in node.p2p.peers.outbound, "the listed peer to be dialled")
        assert node.p2p.peers.found_by[peer_id(listed)] == "dns"
        assert node.p2p.book.info(peer_id(listed)).source == "dns"
