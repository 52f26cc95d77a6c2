"""Multiaddrs an operator (or a peer) gives us: parsed and checked, with no host or socket involved.

Both the configuration (checking ``--p2p`` and ``--bootstrap`` before anything starts) and the P2P
service use these, so they live below both.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import multiaddr
import multiaddr.exceptions

if TYPE_CHECKING:
    from libp2p.peer.peerinfo import PeerInfo

# What the multiaddr parser raises for text that is not a multiaddr.
MULTIADDR_ERRORS = (ValueError, TypeError, multiaddr.exceptions.Error)


class AddressError(ValueError):
    """A multiaddr given by the operator (or a peer) that cannot be used; the message says why."""


def parse_listen(text: str) -> multiaddr.Multiaddr:
    """A listen multiaddr: ``/ip4/ADDRESS/tcp/PORT`` or ``/ip6/ADDRESS/tcp/PORT``."""
    try:
        addr = multiaddr.Multiaddr(text)
    except MULTIADDR_ERRORS as exc:
        raise AddressError(f"listen address {text!r} is not a multiaddr such as /ip4/0.0.0.0/tcp/9338: {exc}") from None
    names = [p.name for p in addr.protocols()]
    if len(names) != 2 or names[0] not in ("ip4", "ip6") or names[1] != "tcp":
        raise AddressError(f"listen address {text!r}: expected /ip4/ADDRESS/tcp/PORT (or /ip6/...)")
    return addr


def parse_peer(text: str) -> PeerInfo:
    """A full peer multiaddr (``/ip4/1.2.3.4/tcp/9338/p2p/12D3...``) as libp2p peer info."""
    # Imported here: importing libp2p takes half a second, which every `otedama` command would pay.
    from libp2p.peer.peerinfo import InvalidAddrError, info_from_p2p_addr

    try:
        info = info_from_p2p_addr(multiaddr.Multiaddr(text))
    except (*MULTIADDR_ERRORS, InvalidAddrError) as exc:
        raise AddressError(f"peer address {text!r} is not a multiaddr ending in /p2p/PEER_ID: {exc}") from None
    if not info.addrs:
        raise AddressError(f"peer address {text!r} has no transport address before /p2p/")
    return info


def parse_announce(text: str) -> multiaddr.Multiaddr:
    """An address to advertise (``--announce``): /ip4, /ip6, /dns, /dns4 or /dns6, then /tcp/PORT."""
    try:
        addr = multiaddr.Multiaddr(text)
    except MULTIADDR_ERRORS as exc:
        raise AddressError(f"--announce {text!r} is not a multiaddr such as /ip4/203.0.113.5/tcp/9338: {exc}") from None
    names = [p.name for p in addr.protocols()]
    if names[-1:] == ["p2p"]:
        names = names[:-1]
        addr = addr.decapsulate(multiaddr.Multiaddr(f"/p2p/{addr.value_for_protocol('p2p')}"))
    if len(names) != 2 or names[0] not in ("ip4", "ip6", "dns", "dns4", "dns6") or names[1] != "tcp":
        raise AddressError(f"--announce {text!r}: expected /ip4/ADDRESS/tcp/PORT, /ip6/... or /dns4/NAME/tcp/PORT")
    ip = addr.value_for_protocol(names[0])
    if names[0] in ("ip4", "ip6") and ipaddress.ip_address(ip).is_unspecified:
        raise AddressError(f"--announce {text!r}: {ip} is not an address peers can dial")
    return addr
