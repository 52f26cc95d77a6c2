"""What the template monitor announces about the chain backend (see :mod:`p2pool.events`)."""

from __future__ import annotations

from dataclasses import dataclass

from p2pool.chain.template import BlockTemplate


@dataclass(frozen=True)
class Health:
    """Healthy, or not with the last error (None: not contacted yet); ``since`` is trio.current_time()
    when this state began."""

    healthy: bool
    error: str | None
    since: float


@dataclass(frozen=True)
class TemplateChanged:
    """The chain backend gave new work; ``new_block``: it builds on another Bitcoin block than before."""

    template: BlockTemplate
    new_block: bool


@dataclass(frozen=True)
class ChainHealthChanged:
    health: Health


@dataclass(frozen=True)
class RpcCalled:
    """One call to the chain backend finished: how long it took and, if it failed, how (``"unavailable"``:
    not delivered or not a usable answer; ``"rpc"``: the node answered with an error)."""

    method: str
    seconds: float
    error: str | None = None
