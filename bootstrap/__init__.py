"""Default seed peers per network: full multiaddrs ending in ``/p2p/<peer id>``.

A node dials these at start (besides ``--bootstrap`` and the peers it remembers) and learns the
rest of the network from them by peer exchange. No network has public seed nodes yet, so every
list is empty: start a seed with ``otedama bootstrap`` and pass its address with ``--bootstrap``.
When public seeds exist, their addresses go here (one string each) in a release.
"""

from __future__ import annotations

SEEDS: dict[str, tuple[str, ...]] = {
    "mainnet": (),
    "testnet4": (),
    "signet": (),
    "regtest": (),  # local by nature: no public seeds
    "devnet": (),  # local by nature: `otedama devnet` wires its nodes together itself
}


def seeds(network: str) -> list[str]:
    """The default seed addresses of ``network`` (an empty list when it has none)."""
    return list(SEEDS.get(network, ()))
