"""Why a peer is not on our network, read from the protocols it announced (identify): another network
name, or the same name with other consensus rules (another network id), or no Otedama at all."""

from __future__ import annotations

from collections.abc import Iterable

_PREFIX = "/otedama/"
_SYNC = "/sync/"


def _parse(protocol: str) -> tuple[str, str] | None:
    """(network name, network id hex) of an Otedama sync protocol ID, else None."""
    if not protocol.startswith(_PREFIX) or _SYNC not in protocol:
        return None
    parts = protocol[len(_PREFIX):].split("/")
    return (parts[0], parts[1]) if len(parts) >= 3 else None


def why_foreign(ours: str, theirs: Iterable[str]) -> str:
    """A sentence for the operator: ``ours`` is our sync protocol ID, ``theirs`` the peer's protocols."""
    mine = _parse(ours)
    assert mine is not None, f"not an Otedama sync protocol: {ours}"
    seen = [parsed for p in theirs if (parsed := _parse(str(p))) is not None]
    if not seen:
        return "it speaks no Otedama sync protocol (not an Otedama node, or it has not identified itself)"
    name, network_id = seen[0]
    if name != mine[0]:
        return f"it is on the {name} network, this node on {mine[0]}"
    if network_id != mine[1]:
        return (f"it runs {name} under other consensus rules (network id {network_id}, ours {mine[1]}): the two "
                "nodes run releases, or settings, whose consensus constants differ")
    return f"it announces {name} with our network id but not our sync protocol version ({ours})"


def announces_another(ours: str, theirs: Iterable[str]) -> bool:
    """Whether the peer's protocols ``theirs`` (identify's list) name an Otedama sync protocol but not ``ours``:
    a node of another network, rules or sync version, told for sure without a stream (the other end may
    have found us foreign first and hung up before one could be negotiated)."""
    listed = [str(p) for p in theirs]
    return ours not in listed and any(_parse(p) is not None for p in listed)
