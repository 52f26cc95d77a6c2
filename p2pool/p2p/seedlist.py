"""Seed entries made usable: peer multiaddrs parsed, DNS seeds (``/dnsaddr/NAME``) resolved through their
TXT records. The format is in :mod:`bootstrap.seedlist`; this is the part that does I/O.

DNS is asked through dnspython in a worker thread (the system's resolver, or one given as
``HOST:PORT``), so a slow name server never blocks the node; any failure is an empty answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

import dns.exception
import dns.resolver
import trio
from libp2p.peer.peerinfo import PeerInfo

from bootstrap.seedlist import (
    MAX_DEPTH,
    MAX_RESOLVED,
    SeedList,
    SeedListError,
    dnsaddr_name,
    parse_entry,
    parse_txt_records,
)
from p2pool.p2p.host import AddressError, parse_peer

log = logging.getLogger("otedama.p2p.seeds")
# The TXT records (as text) of a DNS name; [] when there are none or the lookup failed.
TxtLookup = Callable[[str], Awaitable[list[str]]]


def split_seeds(entries: Iterable[str]) -> tuple[list[PeerInfo], tuple[str, ...]]:
    """Peer entries as libp2p peer info, and the names of DNS seeds; :class:`AddressError` for a bad one."""
    seeds = SeedList()
    for text in entries:
        try:
            seeds = seeds + parse_entry(text)
        except SeedListError as exc:
            raise AddressError(f"seed {exc}") from None
    return [parse_peer(text) for text in seeds.peers], seeds.dns


def txt_lookup(nameserver: str | None = None, timeout: float = 5.0) -> TxtLookup:
    """TXT lookups through the system's resolver, or the DNS server at ``nameserver`` (``HOST:PORT``)."""

    def query(name: str) -> list[str]:
        try:
            resolver = dns.resolver.Resolver(configure=nameserver is None)
            if nameserver is not None:
                host, _, port = nameserver.rpartition(":")
                resolver.nameservers = [host.strip("[]")]
                resolver.port = int(port)
            resolver.lifetime = timeout
            answer = resolver.resolve(name, "TXT")
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            log.info("DNS seed %s: no TXT records (%s)", name, exc)
            return []
        return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]

    async def lookup(name: str) -> list[str]:
        return await trio.to_thread.run_sync(query, name, abandon_on_cancel=True)

    return lookup


async def resolve(names: Iterable[str], lookup: TxtLookup) -> list[str]:
    """The peer multiaddrs that DNS seeds ``names`` list: breadth first, nested ``/dnsaddr/`` names
    followed at most ``MAX_DEPTH`` levels deep, at most ``MAX_RESOLVED`` peers in all."""
    peers: dict[str, None] = {}
    seen: set[str] = set()
    level = list(dict.fromkeys(names))
    for _ in range(MAX_DEPTH):
        following: list[str] = []
        for name in level:
            if name in seen:
                continue
            seen.add(name)
            found = parse_txt_records(await lookup(dnsaddr_name(name)))
            for peer in found.peers:
                peers.setdefault(peer)
            following += found.dns
            if len(peers) >= MAX_RESOLVED:
                return list(peers)[:MAX_RESOLVED]
        level = following
    return list(peers)
