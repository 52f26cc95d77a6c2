"""The admin endpoints: peer control, bans and the built-in miner, behind the API token, each one audited.

What they do is an :class:`AdminActions` of async callables handed in by the composition root
(``app.state.admin_actions``); an action the node does not have (no P2P, no built-in miner) answers
409 "not available on this node". Every call that passed the token check is written to the audit
log (``app.state.audit``) with its outcome. The routes are module-level functions that read the
app's state, so no app's parts outlive it in FastAPI's caches.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from p2pool.api.audit import AuditLog
from p2pool.api.auth import ADMIN

# (ok, message): ok False is a refusal the client is told about (400), such as "not connected to X".
Outcome = tuple[bool, str]
NOT_AVAILABLE = "not available on this node"
MAX_BAN_SECONDS = 10 * 365 * 86400


@dataclass(frozen=True)
class AdminActions:
    """What the admin endpoints call; None where this node cannot do it."""

    connect: Callable[[str], Awaitable[Outcome]] | None = None  # a peer's multiaddr
    disconnect: Callable[[str], Awaitable[Outcome]] | None = None  # a peer ID
    ban: Callable[[str, float, str], Awaitable[Outcome]] | None = None  # peer ID, seconds, reason
    unban: Callable[[str], Awaitable[Outcome]] | None = None  # a peer ID
    mining_start: Callable[[int | None], Awaitable[Outcome]] | None = None  # threads (None: as configured)
    mining_stop: Callable[[], Awaitable[Outcome]] | None = None

    @classmethod
    def from_peer_control(cls, control: Callable[[str, str], Awaitable[Outcome]] | None) -> AdminActions:
        """Connect and disconnect through the P2P service's ``control(action, argument)``."""
        if control is None:
            return cls()
        return cls(connect=partial(control, "connect"), disconnect=partial(control, "disconnect"))


class ActionReply(BaseModel):
    ok: bool = Field(description="whether the node did it")
    message: str


class ErrorReply(BaseModel):
    error: str


class ConnectBody(BaseModel):
    address: str = Field(min_length=1, max_length=1024, description="/ip4/HOST/tcp/PORT/p2p/PEER_ID")


class PeerBody(BaseModel):
    peer_id: str = Field(min_length=1, max_length=128)


class BanBody(PeerBody):
    duration: float = Field(86400.0, gt=0, le=MAX_BAN_SECONDS, description="seconds")
    reason: str = Field("banned by the operator", max_length=200)


class MiningStartBody(BaseModel):
    threads: int | None = Field(None, ge=1, le=1024, description="CPU threads (default: as configured)")


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ActionReply, "description": "the node refused (the message says why)"},
    401: {"model": ErrorReply, "description": "no API token, or a wrong one"},
    409: {"model": ErrorReply, "description": NOT_AVAILABLE},
}
_TEXT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}}


router = APIRouter(dependencies=[ADMIN], responses=_ERRORS, tags=["admin"])


async def _run(request: Request, action: str, arguments: dict[str, Any], name: str, *args: Any) -> JSONResponse:
    """Run the admin action ``name`` of the app's :class:`AdminActions` and write its audit line."""
    actions: AdminActions = request.app.state.admin_actions
    audit: AuditLog = request.app.state.audit
    record = partial(audit.record, client=request.client.host if request.client else "", action=action,
                     arguments=arguments)
    function = getattr(actions, name)
    if function is None:
        record(outcome="unavailable", message=NOT_AVAILABLE)
        return JSONResponse({"error": NOT_AVAILABLE}, 409)
    try:
        ok, message = await function(*args)
    except Exception as exc:
        record(outcome="error", message=f"{type(exc).__name__}: {exc}")
        raise
    record(outcome="ok" if ok else "refused", message=message)
    return JSONResponse({"ok": ok, "message": message}, 200 if ok else 400)


@router.post("/api/peers/connect", response_model=ActionReply)
async def peers_connect(request: Request, body: ConnectBody) -> JSONResponse:
    """Dial a peer and keep it connected."""
    return await _run(request, "peers.connect", body.model_dump(), "connect", body.address)


@router.post("/api/peers/disconnect", response_model=ActionReply)
async def peers_disconnect(request: Request, body: PeerBody) -> JSONResponse:
    """Hang up on a connected peer."""
    return await _run(request, "peers.disconnect", body.model_dump(), "disconnect", body.peer_id)


@router.post("/api/peers/ban", response_model=ActionReply)
async def peers_ban(request: Request, body: BanBody) -> JSONResponse:
    """Ban a peer for ``duration`` seconds (kept across restarts)."""
    return await _run(request, "peers.ban", body.model_dump(), "ban", body.peer_id, body.duration, body.reason)


@router.post("/api/peers/unban", response_model=ActionReply)
async def peers_unban(request: Request, body: PeerBody) -> JSONResponse:
    """Lift a peer's ban."""
    return await _run(request, "peers.unban", body.model_dump(), "unban", body.peer_id)


@router.post("/api/mining/start", response_model=ActionReply)
async def mining_start(request: Request, body: MiningStartBody | None = None) -> JSONResponse:
    """Start the built-in miner (the body is optional)."""
    body = body or MiningStartBody(threads=None)
    return await _run(request, "mining.start", body.model_dump(), "mining_start", body.threads)


@router.post("/api/mining/stop", response_model=ActionReply)
async def mining_stop(request: Request) -> JSONResponse:
    """Stop the built-in miner."""
    return await _run(request, "mining.stop", {}, "mining_stop")


@router.post("/api/p2p/connect", response_model=ActionReply, openapi_extra=_TEXT_BODY)
async def p2p_connect(request: Request) -> JSONResponse:
    """Dial a peer; the body is its multiaddr as plain text (the older form of /api/peers/connect)."""
    address = await _text_argument(request)
    if address is None:
        return JSONResponse({"error": "send the peer multiaddr as the body"}, 400)
    return await _run(request, "peers.connect", {"address": address}, "connect", address)


@router.post("/api/p2p/disconnect", response_model=ActionReply, openapi_extra=_TEXT_BODY)
async def p2p_disconnect(request: Request) -> JSONResponse:
    """Hang up on a peer; the body is its peer ID as plain text (the older form of /api/peers/disconnect)."""
    peer_id = await _text_argument(request)
    if peer_id is None:
        return JSONResponse({"error": "send the peer ID as the body"}, 400)
    return await _run(request, "peers.disconnect", {"peer_id": peer_id}, "disconnect", peer_id)


async def _text_argument(request: Request) -> str | None:
    body = await request.body()
    try:
        text = body.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    return text if 0 < len(text) <= 1024 else None
