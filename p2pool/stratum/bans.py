"""Strikes for invalid work and the IP bans they lead to, kept in the datadir like the P2P peer bans.

An IP earns a strike for each submit refused as invalid work (:data:`~p2pool.stratum.limits.INVALID_WORK`;
stale work earns none) and loses one for each accepted submit, so a miner whose work is mostly good is
never banned. At ``ban_strikes`` the IP is banned for ``ban_seconds``, in force at once and written to the
file (:class:`~p2pool.p2p.banlist.BanList`: atomic, survives a restart, read again on SIGHUP): before
:meth:`StratumBans.strike` returns, or, in a node, within a second by the list's writer in a worker thread
(:func:`p2pool.p2p.ban_writer.write_behind` on :attr:`StratumBans.ban_list`). Times are wall-clock epoch
seconds passed by the caller.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from p2pool.p2p.banlist import Ban, BanList

BAN_FILE = "stratum-bans.json"
MAX_TRACKED = 65_536  # IPs with strikes remembered; past it the one touched least recently is forgotten


class Strikes:
    """Net strikes per IP (pure, bounded)."""

    def __init__(self, max_tracked: int = MAX_TRACKED) -> None:
        self.max_tracked = max_tracked
        self._strikes: OrderedDict[str, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._strikes)

    def get(self, ip: str) -> int:
        return self._strikes.get(ip, 0)

    def add(self, ip: str, invalid: int, good: int = 0) -> int:
        """Count ``invalid`` strikes and forgive ``good`` of them; the IP's strikes now (never below 0)."""
        count = max(0, self._strikes.pop(ip, 0) + invalid - good)
        if count:
            self._strikes[ip] = count
            if len(self._strikes) > self.max_tracked:
                self._strikes.popitem(last=False)
        return count

    def clear(self, ip: str) -> None:
        self._strikes.pop(ip, None)


class StratumBans:
    """Strikes in memory, bans in ``path``; ``ban_strikes`` 0 never bans."""

    def __init__(self, path: Path, ban_strikes: int, ban_seconds: float) -> None:
        self.path = Path(path)
        self.ban_strikes = ban_strikes
        self.ban_seconds = ban_seconds
        self.strikes = Strikes()
        self._list = BanList(self.path)  # BanListError (damaged file) reaches the caller: the node will not start

    def __len__(self) -> int:
        return len(self._list)

    @property
    def ban_list(self) -> BanList:
        """The bans as kept in the file (for the owner that writes them behind the changes)."""
        return self._list

    def banned(self, ip: str, now: float) -> Ban | None:
        """The ban on ``ip`` in force at ``now``, if any (only reads)."""
        return self._list.get(ip, now)

    def strike(self, ip: str, invalid: int, good: int, now: float) -> Ban | None:
        """Count a connection's invalid and good submits; the new ban if they banned ``ip`` (written already)."""
        if not self.ban_strikes or not (invalid or good):
            return None
        count = self.strikes.add(ip, invalid, good)
        if count < self.ban_strikes or self.banned(ip, now) is not None:
            return None
        self.strikes.clear(ip)
        self._list.ban(ip, now + self.ban_seconds, f"{count} submits of invalid work")
        return self._list.get(ip, now)

    def unban(self, ip: str) -> None:
        self._list.unban(ip)
        self.strikes.clear(ip)

    def active(self, now: float) -> list[Ban]:
        return self._list.active(now)

    def reload(self) -> int:
        """Read the file again (SIGHUP); the bans listed. A damaged file raises BanListError, the old bans stay."""
        return self._list.reload()
