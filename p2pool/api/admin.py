"""The admin endpoints: peer control, bans and the built-in miner, behind the API token, each one audited.

What they do is an :class:`AdminActions` of async callables handed in by the composition root
(``app.state.admin_actions``); an action the node does not have (no P2P, no built-in miner) answers
409 "not available on this node". Every call that passed the token check is written to the audit
log (``app.state.audit``) with its outcome. The routes are module-level functions that read the
app's state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from p2pool.api.audit import AuditLog
from p2pool.api.params import Body, BodyField, Bounds
from p2pool.api.routes import ERROR, Endpoint, Operation, Reply
from p2pool.api.schema import ref

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


_PEER_ID = BodyField("peer_id", Bounds(str, min_length=1, max_length=128))
CONNECT = Body("ConnectBody", (BodyField("address", Bounds(str, min_length=1, max_length=1024),
                                         description="/ip4/HOST/tcp/PORT/p2p/PEER_ID"),))
PEER = Body("PeerBody", (_PEER_ID,))
BAN = Body("BanBody", (_PEER_ID,
                       BodyField("duration", Bounds(float, above=0, maximum=MAX_BAN_SECONDS), 86400.0, "seconds"),
                       BodyField("reason", Bounds(str, max_length=200), "banned by the operator")))
MINING_START = Body("MiningStartBody", (BodyField("threads", Bounds(int, minimum=1, maximum=1024, nullable=True), None,
                                                  "CPU threads (default: as configured)"),), optional=True)

_REPLIES = {
    200: Reply("OK", ref("ActionReply")),
    400: Reply("the node refused (the message says why)", ref("ActionReply")),
    409: Reply(NOT_AVAILABLE, ERROR),
}
_TEXT_BODY = {"required": True, "content": {"text/plain": {"schema": {"type": "string", "maxLength": 1024}}}}


async def _run(request: Request, action: str, arguments: dict[str, Any], name: str, *args: Any) -> Response:
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


async def peers_connect(request: Request, body: dict[str, Any]) -> Response:
    """Dial a peer and keep it connected."""
    return await _run(request, "peers.connect", body, "connect", body["address"])


async def peers_disconnect(request: Request, body: dict[str, Any]) -> Response:
    """Hang up on a connected peer."""
    return await _run(request, "peers.disconnect", body, "disconnect", body["peer_id"])


async def peers_ban(request: Request, body: dict[str, Any]) -> Response:
    """Ban a peer for ``duration`` seconds (kept across restarts)."""
    return await _run(request, "peers.ban", body, "ban", body["peer_id"], body["duration"], body["reason"])


async def peers_unban(request: Request, body: dict[str, Any]) -> Response:
    """Lift a peer's ban."""
    return await _run(request, "peers.unban", body, "unban", body["peer_id"])


async def mining_start(request: Request, body: dict[str, Any]) -> Response:
    """Start the built-in miner (the body is optional)."""
    return await _run(request, "mining.start", body, "mining_start", body["threads"])


async def mining_stop(request: Request) -> Response:
    """Stop the built-in miner."""
    return await _run(request, "mining.stop", {}, "mining_stop")


async def p2p_connect(request: Request) -> Response:
    """Dial a peer; the body is its multiaddr as plain text (the older form of /api/peers/connect)."""
    address = await _text_argument(request)
    if address is None:
        return JSONResponse({"error": "send the peer multiaddr as the body"}, 400)
    return await _run(request, "peers.connect", {"address": address}, "connect", address)


async def p2p_disconnect(request: Request) -> Response:
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


def _admin(path: str, endpoint: Endpoint, body: Body | None = None, *, text: bool = False) -> Operation:
    return Operation("POST", path, endpoint, ("admin",), _REPLIES, body=body, admin=True,
                     request_body=_TEXT_BODY if text else None)


OPERATIONS = (
    _admin("/api/peers/connect", peers_connect, CONNECT),
    _admin("/api/peers/disconnect", peers_disconnect, PEER),
    _admin("/api/peers/ban", peers_ban, BAN),
    _admin("/api/peers/unban", peers_unban, PEER),
    _admin("/api/mining/start", mining_start, MINING_START),
    _admin("/api/mining/stop", mining_stop),
    _admin("/api/p2p/connect", p2p_connect, text=True),
    _admin("/api/p2p/disconnect", p2p_disconnect, text=True),
)
