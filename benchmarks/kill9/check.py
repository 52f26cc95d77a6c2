"""What must hold after each ``kill -9``, read from the dead node's files and from outside it.

The database opens (without --reindex); the chain is intact (every share's parent stored, the tip
the most work); nothing stored before is gone; every share the node acknowledged to the miner (the
proxy's record) and every share its peer received from it (the peer's log) is in the store, unless
the node's own log says it refused that share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from p2pool.storage.loader import load_chain
from p2pool.storage.share_store import ShareStore, StoreError
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.bitcoin.transaction import NULL_HASH
from sharechain.params import DEVNET

_FROM_PEER = re.compile(rb"otedama\.intake: share ([0-9a-f]{16}) from (?!miner)\S+(?: \S+)? accepted")
_REFUSED = re.compile(rb"otedama\.intake: share ([0-9a-f]{16}) from miner(?: \S+)? refused")
_FORGOTTEN = re.compile(rb"solution for a forgotten job")


@dataclass
class Outcome:
    """One check: what was found and what is wrong (empty ``problems``: all held)."""

    shares: int = 0
    tip_height: int = -1
    acked: int = 0
    announced: int = 0
    problems: list[str] = field(default_factory=list)


def prefixes_in(log: Path, pattern: re.Pattern[bytes]) -> set[str]:
    try:
        return {m.group(1).decode() for m in pattern.finditer(log.read_bytes())}
    except OSError:
        return set()


def check_store(datadir: Path, acked: set[bytes], peer_log: Path, own_log: Path,
                before: set[bytes]) -> tuple[Outcome, set[bytes]]:
    """Check the stopped node at ``datadir``; returns the outcome and the hashes now stored."""
    outcome = Outcome(acked=len(acked))
    try:
        with ShareStore(datadir / "sharechain", DEVNET) as store:
            chain = load_chain(store, DEVNET)
    except StoreError as exc:
        outcome.problems.append(f"the database does not open: {exc}")
        return outcome, before
    stored = {record.hash for record in chain.records()}
    outcome.shares = len(stored)
    tip = chain.tip
    outcome.tip_height = tip.height if tip is not None else -1
    for record in chain.records():
        if record.prev_hash != NULL_HASH and record.prev_hash not in stored:
            outcome.problems.append(f"share {hash_to_hex(record.hash)[:16]} is stored without its parent")
    if tip is not None and tip.chain_work != max(r.chain_work for r in chain.records()):
        outcome.problems.append("the tip is not the share with the most work")
    if lost := before - stored:
        outcome.problems.append(f"{len(lost)} shares stored before are gone")
    shown = {hash_to_hex(h)[:16] for h in stored}
    refused = prefixes_in(own_log, _REFUSED)
    if lost_acked := {h for h in acked if h not in stored and hash_to_hex(h)[:16] not in refused}:
        outcome.problems.append(f"{len(lost_acked)} shares acknowledged to the miner are not stored: "
                                + ", ".join(sorted(hash_to_hex(h)[:16] for h in lost_acked)[:5]))
    announced = prefixes_in(peer_log, _FROM_PEER)
    outcome.announced = len(announced)
    if lost_announced := announced - shown:
        outcome.problems.append(f"{len(lost_announced)} shares the peer received are not stored: "
                                + ", ".join(sorted(lost_announced)[:5]))
    if _FORGOTTEN.search(own_log.read_bytes() if own_log.exists() else b""):
        outcome.problems.append("the node ignored a solution for a forgotten job")
    return outcome, stored
