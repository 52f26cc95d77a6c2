"""The read endpoints: statistics, workers, peers, shares, payouts, found blocks, a miner's page and the
detailed health. Each reads the app's :class:`ReadViews` (``app.state.views``, built by the composition
root); lists are paged with ``limit`` (at most 500) and the ``cursor`` a page gives as ``next``.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from p2pool.api import models

MAX_LIMIT = 500
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=200, description="the `next` of the previous page")]
AddressQuery = Annotated[str | None, Query(max_length=128, description="only this payout address")]


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


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "a malformed cursor, hash or address"},
    409: {"description": "not available on this node"},
}
router = APIRouter(tags=["read"], responses=_ERRORS)


def _views(request: Request) -> ReadViews | None:
    views: ReadViews | None = getattr(request.app.state, "views", None)
    return views


def _answer(request: Request, read: str, *args: Any, **kwargs: Any) -> Any:
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
    return result


@router.get("/api/health/detailed", response_model=models.HealthDetailed)
async def health_detailed(request: Request) -> Any:
    """Each service (Stratum, P2P, chain backend, database) with its state and why; uptime; this process's
    CPU, memory and connections."""
    return _answer(request, "health")


@router.get("/api/stats", response_model=models.Stats)
async def stats(request: Request) -> Any:
    """Pool and local hash rate (10 min, 1 h, 24 h, from share work), shares by outcome and reason, the
    window's uncles and orphans, difficulties, effort, expected time to a block, blocks found."""
    return _answer(request, "statistics")


@router.get("/api/stats/history", response_model=models.History)
async def stats_history(request: Request,
                        span: Annotated[int, Query(ge=60, le=86400, description="seconds back from now")] = 21600) -> Any:
    """Pool and local hash rate by the minute (the dashboard's chart)."""
    return _answer(request, "history", span)


@router.get("/api/workers", response_model=models.WorkerPage)
async def workers(request: Request, limit: Limit = 100, cursor: Cursor = None, address: AddressQuery = None) -> Any:
    """This node's Stratum workers (online now or seen in the last two days), by name."""
    return _answer(request, "workers", limit, cursor, address)


@router.get("/api/peers", response_model=models.PeerPage)
async def peers(request: Request, limit: Limit = 100, cursor: Cursor = None) -> Any:
    """Connected sharechain peers, by peer ID, and the bans in force."""
    return _answer(request, "peers", limit, cursor)


@router.get("/api/shares", response_model=models.SharePage)
async def shares(request: Request, limit: Limit = 50, cursor: Cursor = None,
                 status: Annotated[str | None, Query(pattern="^(main|uncle|side|orphan)$")] = None,
                 address: AddressQuery = None) -> Any:
    """The recent sharechain, main and side, newest first."""
    return _answer(request, "shares", limit, cursor, status, address)


@router.get("/api/shares/{share_hash}", response_model=models.ShareDetail,
            responses={404: {"description": "no such share (or pruned)"}})
async def share(request: Request, share_hash: Annotated[str, Path(max_length=64)]) -> Any:
    """One share: its place in the chain, status, uncles and what its coinbase pays."""
    result = _answer(request, "share", share_hash)
    if isinstance(result, JSONResponse) and result.status_code == 503:
        return JSONResponse({"error": f"no share {share_hash} in the sharechain"}, 404)
    return result


@router.get("/api/payouts", response_model=models.Payouts,
            responses={503: {"description": "no block template yet"}})
async def payouts(request: Request, finder: Annotated[str | None, Query(max_length=128)] = None) -> Any:
    """The exact coinbase outputs the next block would pay (the work provider's own computation), with
    each address's share of the PPLNS window. ``finder``: the address assumed to find it (default: the
    node's built-in miner, else its latest worker)."""
    return _answer(request, "payouts", finder)


@router.get("/api/blocks", response_model=models.BlockPage)
async def blocks(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Any:
    """Blocks this node found, newest first: their payouts and their state in the Bitcoin chain."""
    return _answer(request, "blocks", limit, cursor)


@router.get("/api/miner/{address}", response_model=models.Miner)
async def miner(request: Request, address: Annotated[str, Path(max_length=128)]) -> Any:
    """One payout address: its workers, hash rate and its history, its shares and uncles in the window,
    what the next block would pay it, and what past blocks paid it."""
    return _answer(request, "miner_page", address)
