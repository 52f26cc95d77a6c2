"""The read endpoints: statistics, workers, peers, shares, payouts, found blocks, a miner's page and the
detailed health. Each reads the app's :class:`ReadViews` (``app.state.views``, built by the composition
root); lists are paged with ``limit`` (at most 500) and the ``cursor`` a page gives as ``next``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from p2pool.api.params import Bounds, Param
from p2pool.api.routes import ERROR, Endpoint, Operation, Reply
from p2pool.api.schema import ref

MAX_LIMIT = 500
_LIMIT = Bounds(int, minimum=1, maximum=MAX_LIMIT)
_CURSOR = Param("cursor", Bounds(str, max_length=200), description="the `next` of the previous page")
_ADDRESS = Param("address", Bounds(str, max_length=128), description="only this payout address")


def _limit(default: int) -> Param:
    return Param("limit", _LIMIT, default, description="items per page")


class BadRequest(Exception):
    """The request names something malformed (a cursor, a hash, an address): 400 with the reason."""


class NotOnThisNode(Exception):
    """This node has no such thing (a seed node has no payouts): 409 with the reason."""


class ReadViews(Protocol):
    """What the read endpoints call (:class:`p2pool.views.node_views.NodeViews`): they raise
    :class:`BadRequest` (400) or :class:`NotOnThisNode` (409), or return None for "not yet" (503)."""

    def statistics(self) -> dict[str, Any]: ...
    def history(self, span: int) -> dict[str, Any]: ...
    def workers(self, limit: int, cursor: str | None, address: str | None = None) -> dict[str, Any]: ...
    def peers(self, limit: int, cursor: str | None) -> dict[str, Any]: ...
    def shares(self, limit: int, cursor: str | None, status: str | None = None,
               address: str | None = None) -> dict[str, Any]: ...
    def share(self, share_hash: str) -> dict[str, Any] | None: ...
    def payouts(self, finder: str | None = None) -> dict[str, Any] | None: ...
    def blocks(self, limit: int, cursor: str | None) -> dict[str, Any]: ...
    def miner_page(self, address: str) -> dict[str, Any]: ...
    def health(self) -> dict[str, Any]: ...


_ERRORS = {400: Reply("a malformed cursor, hash or address", ERROR), 409: Reply("not available on this node", ERROR)}


def _views(request: Request) -> ReadViews | None:
    views: ReadViews | None = getattr(request.app.state, "views", None)
    return views


def _answer(request: Request, read: str, *args: Any, **kwargs: Any) -> JSONResponse:
    views = _views(request)
    if views is None:
        return JSONResponse({"error": "not available on this node"}, 409)
    try:
        result = getattr(views, read)(*args, **kwargs)
    except BadRequest as exc:
        return JSONResponse({"error": str(exc)}, 400)
    except NotOnThisNode as exc:
        return JSONResponse({"error": str(exc)}, 409)
    if result is None:
        return JSONResponse({"error": "not available yet: the node has no block template"}, 503)
    return JSONResponse(result)


async def health_detailed(request: Request) -> Response:
    """Each service (Stratum, P2P, chain backend, database) with its state and why; uptime; this process's
    CPU, memory and connections."""
    return _answer(request, "health")


async def stats(request: Request) -> Response:
    """Pool and local hash rate (10 min, 1 h, 24 h, from share work), shares by outcome and reason, the
    window's uncles and orphans, difficulties, effort, expected time to a block, blocks found."""
    return _answer(request, "statistics")


async def stats_history(request: Request, span: int) -> Response:
    """Pool and local hash rate by the minute (the dashboard's chart)."""
    return _answer(request, "history", span)


async def workers(request: Request, limit: int, cursor: str | None, address: str | None) -> Response:
    """This node's Stratum workers (online now or seen in the last two days), by name."""
    return _answer(request, "workers", limit, cursor, address)


async def peers(request: Request, limit: int, cursor: str | None) -> Response:
    """Connected sharechain peers, by peer ID, and the bans in force."""
    return _answer(request, "peers", limit, cursor)


async def shares(request: Request, limit: int, cursor: str | None, status: str | None,
                 address: str | None) -> Response:
    """The recent sharechain, main and side, newest first."""
    return _answer(request, "shares", limit, cursor, status, address)


async def share(request: Request, share_hash: str) -> Response:
    """One share: its place in the chain, status, uncles and what its coinbase pays."""
    result = _answer(request, "share", share_hash)
    if result.status_code == 503:
        return JSONResponse({"error": f"no share {share_hash} in the sharechain"}, 404)
    return result


async def payouts(request: Request, finder: str | None) -> Response:
    """The exact coinbase outputs the next block would pay (the work provider's own computation), with
    each address's share of the PPLNS window. ``finder``: the address assumed to find it (default: the
    node's built-in miner, else its latest worker)."""
    return _answer(request, "payouts", finder)


async def blocks(request: Request, limit: int, cursor: str | None) -> Response:
    """Blocks this node found, newest first: their payouts and their state in the Bitcoin chain."""
    return _answer(request, "blocks", limit, cursor)


async def miner(request: Request, address: str) -> Response:
    """One payout address: its workers, hash rate and its history, its shares and uncles in the window,
    what the next block would pay it, and what past blocks paid it."""
    return _answer(request, "miner_page", address)


def _read(path: str, endpoint: Endpoint, schema: str, *params: Param,
          more: Mapping[int, Reply] | None = None) -> Operation:
    answers = {200: Reply("OK", ref(schema)), **_ERRORS, **(more or {})}
    return Operation("GET", path, endpoint, ("read",), answers, params)


OPERATIONS = (
    _read("/api/health/detailed", health_detailed, "HealthDetailed"),
    _read("/api/stats", stats, "Stats"),
    _read("/api/stats/history", stats_history, "History",
          Param("span", Bounds(int, minimum=60, maximum=86400), 21600, description="seconds back from now")),
    _read("/api/workers", workers, "WorkerPage", _limit(100), _CURSOR, _ADDRESS),
    _read("/api/peers", peers, "PeerPage", _limit(100), _CURSOR),
    _read("/api/shares", shares, "SharePage", _limit(50), _CURSOR,
          Param("status", Bounds(str, pattern="^(main|uncle|side|orphan)$"), description="only shares of this status"),
          _ADDRESS),
    _read("/api/shares/{share_hash}", share, "ShareDetail", Param("share_hash", Bounds(str, max_length=64), where="path"),
          more={404: Reply("no such share (or pruned)", ERROR)}),
    _read("/api/payouts", payouts, "Payouts", Param("finder", Bounds(str, max_length=128)),
          more={503: Reply("no block template yet", ERROR)}),
    _read("/api/blocks", blocks, "BlockPage", _limit(50), _CURSOR),
    _read("/api/miner/{address}", miner, "Miner", Param("address", Bounds(str, max_length=128), where="path")),
)
