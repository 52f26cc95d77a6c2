"""The seed-list format: peer entries, DNS seeds, comments, clear errors with the line, TXT records."""

from __future__ import annotations

import pytest

from bootstrap.seedlist import (
    MAX_ENTRIES,
    SeedList,
    SeedListError,
    dnsaddr_name,
    parse_entry,
    parse_seed_list,
    parse_txt_records,
)

PEER = "/ip4/203.0.113.5/tcp/9338/p2p/12D3KooWJdrweqGHMChAkt6amrCX71feRRYmfUBPGKLtmE82yn5b"
PEER6 = "/ip6/2001:db8::5/tcp/9338/p2p/12D3KooWJdrweqGHMChAkt6amrCX71feRRYmfUBPGKLtmE82yn5b"
NAMED = "/dns4/seed1.example.org/tcp/9338/p2p/12D3KooWJdrweqGHMChAkt6amrCX71feRRYmfUBPGKLtmE82yn5b"


def test_a_seed_list_has_peers_and_dns_seeds_comments_and_blank_lines():
    text = f"""# Otedama mainnet seeds
{PEER}
   {PEER6}   # an IPv6 one

{NAMED}
/dnsaddr/Seeds.Example.ORG.
{PEER}
"""
    seeds = parse_seed_list(text)
    assert seeds == SeedList(peers=(PEER, PEER6, NAMED), dns=("seeds.example.org",))


@pytest.mark.parametrize(("entry", "message"), [
    ("/ip4/203.0.113.5/tcp/9338", "expected /ip4/ADDRESS/tcp/PORT/p2p/PEER_ID"),
    ("/ip4/203.0.113.5/udp/9338/p2p/12D3KooWJdrweqGHMChAkt6amrCX71feRRYmfUBPGKLtmE82yn5b", "expected"),
    ("seed.example.org:9338", "is not a multiaddr"),
    ("/ip4/203.0.113.5/tcp/9338/p2p/notapeer", "is not a multiaddr"),
    ("/dnsaddr/seeds.example.org/tcp/1", "expected"),
])
def test_entries_that_are_not_seeds_are_refused_with_the_reason(entry, message):
    with pytest.raises(SeedListError, match=message):
        parse_entry(entry)


def test_an_error_names_the_source_and_the_line():
    with pytest.raises(SeedListError, match=r"seeds.txt, line 3: 'nonsense' is not a multiaddr"):
        parse_seed_list(f"# ok\n{PEER}\nnonsense\n", "seeds.txt")


def test_a_seed_list_is_bounded():
    with pytest.raises(SeedListError, match="longer than"):
        parse_seed_list("/dnsaddr/" + "a" * 2000)
    many = "\n".join(f"/dnsaddr/seed{i}.example.org" for i in range(MAX_ENTRIES + 1))
    with pytest.raises(SeedListError, match="more than"):
        parse_seed_list(many)


def test_dns_seeds_are_read_from_dnsaddr_txt_records():
    assert dnsaddr_name("seeds.example.org") == "_dnsaddr.seeds.example.org"
    records = [f"dnsaddr={PEER}", "v=spf1 -all", "dnsaddr=/dnsaddr/more.example.org", "dnsaddr=garbage",
               f"dnsaddr={NAMED}", "dnsaddr"]
    assert parse_txt_records(records) == SeedList(peers=(PEER, NAMED), dns=("more.example.org",))
