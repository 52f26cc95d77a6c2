"""The systemd notification protocol (``sd_notify``), written out: a datagram to ``$NOTIFY_SOCKET``.

With ``Type=notify`` systemd waits for ``READY=1`` before it counts the service as started;
``STOPPING=1`` says a stop has begun; ``STATUS=...`` is shown by ``systemctl status``; with
``WatchdogSec=`` set, ``WATCHDOG=1`` must come at least every ``$WATCHDOG_USEC`` microseconds or the
node is restarted. Outside systemd (no ``$NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

import trio

log = logging.getLogger("otedama.systemd")


def notify(*fields: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``fields`` (``"READY=1"``, ``"STATUS=..."``) to systemd; False when not under systemd or it failed."""
    environ = os.environ if environ is None else environ
    address = environ.get("NOTIFY_SOCKET", "")
    if not address or not fields:
        return False
    if address[0] not in "/@":
        log.warning("NOTIFY_SOCKET=%r is neither a path nor an abstract socket; not notifying systemd", address)
        return False
    target = "\0" + address[1:] if address.startswith("@") else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall("\n".join(fields).encode())
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", address, exc.strerror or exc)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half the period systemd asked for), or None when it asked for none."""
    environ = os.environ if environ is None else environ
    usec, pid = environ.get("WATCHDOG_USEC", ""), environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6


async def run_watchdog(interval: float) -> None:
    """Ping systemd's watchdog while the event loop runs (a loop that hangs stops pinging, and is restarted)."""
    while True:
        notify("WATCHDOG=1")
        await trio.sleep(interval)
