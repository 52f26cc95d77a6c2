"""The seed-list format: how seed peers are written in ``--bootstrap``, in a ``--seed-file`` and in the
network defaults (:data:`bootstrap.SEEDS`), and how DNS seeds are read.

A seed list is UTF-8 text, one entry per line; blank lines and everything after ``#`` are ignored::

    # Otedama mainnet seeds
    /ip4/203.0.113.5/tcp/9338/p2p/12D3KooW...        a peer: IPv4 or IPv6 address, TCP port, peer ID
    /dns4/seed1.example.org/tcp/9338/p2p/12D3KooW...  the same with a DNS name (resolved when dialled)
    /dnsaddr/seeds.example.org                        a DNS seed: a name whose TXT records list peers

A peer entry is a full multiaddr ending in ``/p2p/<peer ID>``: the peer ID is what the Noise handshake
authenticates, so a dial needs it. That is why a DNS seed uses TXT records (libp2p's ``dnsaddr``
convention) rather than A/AAAA records, which could carry an address but no peer ID: the TXT
records of ``_dnsaddr.<name>`` each hold ``dnsaddr=<multiaddr>``, a peer entry or another
``/dnsaddr/`` name (followed at most :data:`MAX_DEPTH` levels deep). Records that do not parse are
skipped; at most :data:`MAX_RESOLVED` peers are taken from one seed list.
"""

from __future__ import annotations

from dataclasses import dataclass

import multiaddr
import multiaddr.exceptions

MAX_LINE = 1024
MAX_ENTRIES = 1000
MAX_DEPTH = 3
MAX_RESOLVED = 64
_HOSTS = ("ip4", "ip6", "dns", "dns4", "dns6")


class SeedListError(ValueError):
    """An entry that is not a seed; the message says where and why."""


@dataclass(frozen=True)
class SeedList:
    peers: tuple[str, ...] = ()  # full peer multiaddrs
    dns: tuple[str, ...] = ()  # DNS seed names (the NAME of /dnsaddr/NAME)

    def __add__(self, other: SeedList) -> SeedList:
        return SeedList(tuple(dict.fromkeys(self.peers + other.peers)), tuple(dict.fromkeys(self.dns + other.dns)))


def parse_entry(text: str) -> SeedList:
    """One entry: a peer multiaddr or ``/dnsaddr/NAME``. :class:`SeedListError` otherwise."""
    text = text.strip()
    try:
        parts = list(multiaddr.Multiaddr(text).items())
    except (ValueError, TypeError, multiaddr.exceptions.Error) as exc:
        raise SeedListError(f"{text!r} is not a multiaddr: {exc}") from None
    names = [protocol.name for protocol, _ in parts]
    if names == ["dnsaddr"]:
        name = str(parts[0][1]).rstrip(".").lower()
        if not name or len(name) > 253:
            raise SeedListError(f"{text!r}: not a DNS name")
        return SeedList(dns=(name,))
    if len(names) == 3 and names[0] in _HOSTS and names[1] == "tcp" and names[2] == "p2p":
        return SeedList(peers=(str(multiaddr.Multiaddr(text)),))
    raise SeedListError(f"{text!r}: expected /ip4/ADDRESS/tcp/PORT/p2p/PEER_ID (or /ip6, /dns4, /dns6) "
                        "or /dnsaddr/NAME")


def parse_seed_list(text: str, source: str = "seed list") -> SeedList:
    """A whole seed list; errors name ``source`` and the line."""
    seeds = SeedList()
    lines = text.splitlines()
    if len(lines) > MAX_ENTRIES * 4:
        raise SeedListError(f"{source}: {len(lines)} lines is too many for a seed list")
    for number, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if len(entry) > MAX_LINE:
            raise SeedListError(f"{source}, line {number}: longer than {MAX_LINE} characters")
        try:
            seeds = seeds + parse_entry(entry)
        except SeedListError as exc:
            raise SeedListError(f"{source}, line {number}: {exc}") from None
        if len(seeds.peers) + len(seeds.dns) > MAX_ENTRIES:
            raise SeedListError(f"{source}: more than {MAX_ENTRIES} entries")
    return seeds


def dnsaddr_name(name: str) -> str:
    """Where the TXT records of DNS seed ``name`` are."""
    return f"_dnsaddr.{name}"


def parse_txt_records(records: list[str]) -> SeedList:
    """The entries in the TXT records of a DNS seed (``dnsaddr=<entry>``); anything else is skipped."""
    seeds = SeedList()
    for record in records:
        key, sep, value = record.strip().partition("=")
        if not sep or key != "dnsaddr" or len(value) > MAX_LINE:
            continue
        try:
            seeds = seeds + parse_entry(value)
        except SeedListError:
            continue
    return seeds
