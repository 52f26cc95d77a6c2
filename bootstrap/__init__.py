"""Default seed peers per network, as seed-list entries (the format is in :mod:`bootstrap.seedlist`):
full peer multiaddrs ending in ``/p2p/<peer id>``, or DNS seeds ``/dnsaddr/NAME`` whose TXT records
list peers.

A node dials these at start (besides ``--bootstrap``, ``--seed-file`` and the peers it remembers) and
learns the rest of the network from them through the DHT and peer exchange. No network has public
seed nodes yet, so every list is empty: start a seed with ``otedama bootstrap`` and pass its address
with ``--bootstrap`` (or list it in a file for ``--seed-file``). When public seeds exist, their
entries go here (one string each) in a release; a ``/dnsaddr/`` entry lets the operators of the
seeds change them without a release.
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
    """The default seed entries of ``network`` (an empty list when it has none)."""
    return list(SEEDS.get(network, ()))
