"""The kind of option that takes IP addresses and CIDRs (``stratum_allow``): a string or a list in the file,
comma-separated in the environment, the option repeated on the command line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from p2pool.config.values import Invalid, Kind
from p2pool.stratum.limits import parse_networks

MAX_NETWORKS = 1024


@dataclass(frozen=True)
class IpNetworks(Kind):
    """IPs and CIDRs, kept as written (``203.0.113.7``, ``10.0.0.0/8``, ``2001:db8::/32``)."""

    metavar = "IP/CIDR"
    repeated = True

    def parse(self, raw: object, textual: bool) -> tuple[str, ...]:
        expected = f"expected an IP address or a CIDR such as 10.0.0.0/8 (or a list of them, at most {MAX_NETWORKS})"
        if textual and isinstance(raw, str):
            raw = [part for part in re.split(r"[,\s]+", raw) if part]
        elif isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, Sequence) or not all(isinstance(item, str) for item in raw) \
                or len(raw) > MAX_NETWORKS or any(len(item) > 64 for item in raw):
            raise Invalid(expected)
        try:
            networks = parse_networks(raw)
        except ValueError as exc:
            raise Invalid(f"{expected}: {exc}") from None
        return tuple(str(network) for network in networks)

    def render(self, value: tuple[str, ...]) -> list[str]:
        return list(value)
