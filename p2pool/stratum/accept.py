"""The Stratum server's door: who may connect, what their invalid work costs them, and the events, metrics
and log lines of every refusal.

:class:`Gate` applies :mod:`p2pool.stratum.limits` and :mod:`p2pool.stratum.bans` at the three moments
the server calls it: at accept (before any per-connection state is built), after each piece of a
connection's data is answered (strikes, bans, the submit rate), and at close. It announces
:class:`~p2pool.events.MinerRefused` and :class:`~p2pool.events.MinerBanned`; log lines about one IP
are throttled, so a flood of refusals writes a line a minute, not a line a refusal.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from p2pool.events import MinerBanned, MinerRefused
from p2pool.p2p.banlist import Ban
from p2pool.stratum.limits import IpCounts, Refusal, StratumLimits
from p2pool.stratum.session import Session
from sharechain.bitcoin.stratum import codec as p

log = logging.getLogger("p2pool.stratum.server")

_FAREWELL_SECONDS = 1.0  # a refused stranger gets this long to take the error line
_LOG_EVERY = 60.0  # seconds between log lines about one IP and reason
_LOG_KEYS = 4096


class BanKeeper(Protocol):
    """Where bans are kept and strikes counted (:class:`~p2pool.stratum.bans.StratumBans` in the node)."""

    def banned(self, ip: str, now: float) -> Ban | None: ...

    def strike(self, ip: str, invalid: int, good: int, now: float) -> Ban | None: ...

    def reload(self) -> int: ...


@dataclass(frozen=True)
class Tally:
    """A session's running counts the gate judges by: invalid work, good work, submits over the rate, worker
    names over the cap."""

    invalid: int
    good: int
    rate_limited: int
    workers_refused: int

    @classmethod
    def of(cls, session: Session) -> Tally:
        return cls(session.invalid, session.good, session.rate_limited, session.workers_refused)


class Gate:
    """Admission, strikes and bans for one server. ``clock`` is wall time (bans outlive the process)."""

    def __init__(self, limits: StratumLimits, bans: BanKeeper | None, publish: Callable[[object], None],
                 clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self.bans = bans
        self.ips = IpCounts(limits)
        self._publish = publish
        self._clock = clock
        self._logged: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    def admit(self, ip: str) -> bytes | None:
        """Count a new connection from ``ip``; or, refused, the error line to send it before closing."""
        ban = self.banned(ip)
        if ban is not None:
            return self.refuse(ip, Refusal.BANNED, f"this IP is banned until {_utc(ban.until)} ({ban.reason})")
        if self.ips.admit(ip) is not None:
            return self.refuse(ip, Refusal.PER_IP, f"{self.ips.count(ip)} connections from this IP already, the most"
                                                   " this node allows (an operator can allow a farm: stratum_allow)")
        return None

    def release(self, ip: str) -> None:
        """A connection :meth:`admit` let in has closed."""
        self.ips.release(ip)

    def banned(self, ip: str) -> Ban | None:
        return self.bans.banned(ip, self._clock()) if self.bans is not None else None

    def refuse(self, ip: str, reason: Refusal, detail: str, count: int = 1) -> bytes:
        """Announce and log a refusal; the error line that tells the miner."""
        self._publish(MinerRefused(ip, reason.value, detail, count))
        self._log(ip, reason.value, "stratum: refused %s (%s): %s", ip, reason.value, detail)
        return p.encode_error(None, p.OTHER, f"Refused: {detail}")

    def judge(self, ip: str, before: Tally, after: Tally) -> Ban | None:
        """After a read: refusals of the submit rate announced, strikes counted; the ban if ``ip`` earned one."""
        refused = after.workers_refused - before.workers_refused
        if refused:
            self.refuse(ip, Refusal.WORKERS, f"more than {self.limits.max_workers} workers on one connection", refused)
        limited = after.rate_limited - before.rate_limited
        if limited:
            self._publish(MinerRefused(ip, Refusal.SUBMIT_RATE.value, "submits past the rate", limited))
            self._log(ip, Refusal.SUBMIT_RATE.value, "stratum: %s submits faster than %g/s; refusing the excess",
                      ip, self.limits.submit_rate)
        if self.bans is None:
            return None
        now = self._clock()
        ban = self.bans.strike(ip, after.invalid - before.invalid, after.good - before.good, now)
        if ban is not None:
            self._publish(MinerBanned(ip, ban.until, ban.reason))
            log.warning("stratum: banned %s until %s: %s", ip, _utc(ban.until), ban.reason)
        return ban

    def reload(self) -> int:
        """Read the ban file again (SIGHUP); how many bans it lists."""
        return self.bans.reload() if self.bans is not None else 0

    def _log(self, ip: str, reason: str, message: str, *args: object) -> None:
        now = self._clock()
        key = (ip, reason)
        last, suppressed = self._logged.pop(key, (float("-inf"), 0))
        if now - last < _LOG_EVERY:
            self._logged[key] = (last, suppressed + 1)
        else:
            if suppressed:
                log.warning("%s (and %d more like it in the last minute)", message % args, suppressed)
            else:
                log.warning(message, *args)
            self._logged[key] = (now, 0)
        while len(self._logged) > _LOG_KEYS:
            self._logged.popitem(last=False)


# accept() failures that are about resources, not the listener (as trio.serve_listeners treats them).
_ACCEPT_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}


async def accept_forever(listener: trio.SocketListener, take: Callable[[trio.SocketStream], Awaitable[None]]) -> None:
    """Accept connections and hand each to ``take``; out of descriptors or memory, try again in 0.1 s
    (the listener's own failures are raised)."""
    while True:
        try:
            stream = await listener.accept()
        except OSError as exc:
            if exc.errno not in _ACCEPT_CAPACITY_ERRNOS:
                raise
            log.error("stratum: cannot accept a connection (%s); trying again in 0.1 s", exc)
            await trio.sleep(0.1)
            continue
        await take(stream)


async def turn_away(stream: trio.abc.Stream, line: bytes | None) -> None:
    """Close a refused connection, telling it why first if it takes the line at once."""
    if line:
        with trio.move_on_after(_FAREWELL_SECONDS):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                await stream.send_all(line)
    await trio.aclose_forcefully(stream)


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
