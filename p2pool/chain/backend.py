"""What the node needs from a Bitcoin node: templates to mine on and a way to submit blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from p2pool.chain.template import BlockTemplate


class ChainError(Exception):
    """Base of the errors a chain backend raises."""


class ChainUnavailable(ChainError):
    """The Bitcoin node cannot be used right now (unreachable, auth refused, warming up, timed out...).

    ``url`` never contains the password; ``reason`` says what failed.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"bitcoind at {url} is unavailable: {reason}")
        self.url = url
        self.reason = reason


class RpcError(ChainError):
    """The node answered a call with a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method} failed with RPC error {code}: {message}")
        self.method = method
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SubmitResult:
    """Outcome of ``submitblock``: accepted, or the node's reject string (BIP22) / RPC error text.

    ``accepted`` is True only for a null result (valid and connected). "duplicate" and
    "inconclusive" (stored on a side branch, not yet validated) are reported as not accepted.
    """

    accepted: bool
    reason: str | None = None


class ChainBackend(Protocol):
    """The interface the node and :class:`~p2pool.chain.monitor.TemplateMonitor` use."""

    async def get_template(self) -> BlockTemplate:
        """The current template; raises :class:`ChainUnavailable` when the node cannot be used."""
        ...

    async def wait_for_template(self, longpollid: str) -> BlockTemplate:
        """Long poll: returns once the template identified by ``longpollid`` is outdated (or the server times out)."""
        ...

    async def submit_block(self, block: bytes) -> SubmitResult:
        """Submit a full serialized block; raises :class:`ChainUnavailable` if it could not be delivered."""
        ...
