"""The next share on a tip, prepared once for every miner: its fields but the payout script, and the
PPLNS split that only the miner's own weight changes (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from sharechain.pplns import Payout, SharedSplit
from sharechain.share import ShareInfo


@dataclass(frozen=True)
class PreparedShare:
    """What ``ShareChain.prepare`` computes for every payout script alike: parent, height, timestamp,
    share bits, uncles and the shared split; :meth:`for_script` adds one miner's part."""

    prev_hash: bytes
    height: int
    timestamp: int
    share_bits: int
    uncles: tuple[bytes, ...]
    split: SharedSplit

    def for_script(self, payout_script: bytes) -> tuple[ShareInfo, list[Payout]]:
        """Share information and coinbase payouts for a miner paid to ``payout_script``: equal to
        ``ShareChain.prepare(payout_script, now, value)`` on the same tip, time and value."""
        return self.info_for(payout_script), self.split.payouts(payout_script)

    def info_for(self, payout_script: bytes) -> ShareInfo:
        """The share information alone (what the coinbase commits to)."""
        return ShareInfo(self.prev_hash, self.height, self.timestamp, self.share_bits, payout_script, self.uncles)
