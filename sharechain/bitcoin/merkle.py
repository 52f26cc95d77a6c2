"""Merkle roots and the coinbase's merkle branch (the list Stratum sends as ``merkle_branch``)."""

from __future__ import annotations

from collections.abc import Sequence

from sharechain.bitcoin.hashing import sha256d


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """Bitcoin's merkle root over internal-order hashes (odd levels repeat their last hash)."""
    if not hashes:
        raise ValueError("a merkle tree needs at least one leaf")
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def coinbase_merkle_branch(other_txids: Sequence[bytes]) -> list[bytes]:
    """The siblings on the path from the coinbase (leaf 0) to the root, given every other txid in order."""
    branch: list[bytes] = []
    # Each level without its first node: the one on the coinbase's path, which the miner computes.
    level = list(other_txids)
    while level:
        branch.append(level[0])
        rest = level[1:]
        if len(rest) % 2:
            rest.append(rest[-1])
        level = [sha256d(rest[i] + rest[i + 1]) for i in range(0, len(rest), 2)]
    return branch


def root_from_coinbase_branch(coinbase_txid: bytes, branch: Sequence[bytes]) -> bytes:
    """Fold a coinbase txid up its branch: what miners do to build the header's merkle root."""
    node = coinbase_txid
    for sibling in branch:
        node = sha256d(node + sibling)
    return node
