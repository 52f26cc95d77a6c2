"""What a part that asks peers for things needs from the sync client: one request, one checked batch."""

from __future__ import annotations

from typing import Protocol

from p2pool.p2p.messages import Message
from sharechain.share import Share


class RequestFailed(Exception):
    """A request got no usable answer (the peer has already been penalized if it was its fault)."""


class Requests(Protocol):
    async def request(self, peer: str, message: Message) -> Message:
        """``message``'s reply from ``peer``; raises :class:`RequestFailed`."""
        ...

    def check_batch(self, peer: str, raws: tuple[bytes, ...], wanted: set[bytes], *,
                    pow_checked: bool = False) -> list[Share] | None:
        """Shares parsed and their proof of work checked in one batch; None (and a penalty) if any fails."""
        ...
