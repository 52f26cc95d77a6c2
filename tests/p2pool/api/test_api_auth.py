"""Admin endpoints over real HTTP: 401 without or with a wrong token, 200 with it, 409 when the node cannot,
400 when it refuses, 422 for a malformed body; every call with the token leaves an audit line. The token
itself: from the option, a file, or created in the datadir with mode 0600."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from p2pool.api import AdminActions, ApiSources
from p2pool.api.auth import resolve_token
from p2pool.config import ConfigError
from tests.p2pool.api.apiserver import TOKEN, start_api

# (path, JSON body, the action's name in the audit log, the arguments the action gets)
CALLS: list[tuple[str, Any, str, tuple[Any, ...]]] = [
    ("/api/peers/connect", {"address": "/ip4/127.0.0.1/tcp/9/p2p/QmPeer"}, "peers.connect",
     ("/ip4/127.0.0.1/tcp/9/p2p/QmPeer",)),
    ("/api/peers/disconnect", {"peer_id": "QmPeer"}, "peers.disconnect", ("QmPeer",)),
    ("/api/peers/ban", {"peer_id": "QmPeer", "duration": 600, "reason": "spam"}, "peers.ban", ("QmPeer", 600.0, "spam")),
    ("/api/peers/unban", {"peer_id": "QmPeer"}, "peers.unban", ("QmPeer",)),
    ("/api/mining/start", {"threads": 2}, "mining.start", (2,)),
    ("/api/mining/stop", None, "mining.stop", ()),
    ("/api/p2p/connect", "/ip4/127.0.0.1/tcp/9/p2p/QmPeer", "peers.connect", ("/ip4/127.0.0.1/tcp/9/p2p/QmPeer",)),
    ("/api/p2p/disconnect", "QmPeer", "peers.disconnect", ("QmPeer",)),
]


class Recorder:
    """Admin actions that do what they are asked (record it) and say so; ``refuse`` makes them decline."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.refuse = False

    def action(self, name: str) -> Any:
        async def act(*args: Any) -> tuple[bool, str]:
            self.calls.append((name, args))
            return (False, f"{name} refused") if self.refuse else (True, f"{name} done")
        return act

    def actions(self) -> AdminActions:
        return AdminActions(**{name: self.action(name) for name in
                               ("connect", "disconnect", "ban", "unban", "mining_start", "mining_stop")})


def sources(admin: AdminActions) -> ApiSources:
    return ApiSources(status=dict, problems=list, metrics=bytes, admin=admin)


async def post(client: httpx.AsyncClient, path: str, body: Any, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, str):
        return await client.post(path, content=body.encode(), headers=headers)
    return await client.post(path, json=body, headers=headers) if body is not None else await client.post(
        path, headers=headers)


def audit_lines(datadir: Path) -> list[dict[str, Any]]:
    path = datadir / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize(("path", "body", "action", "arguments"), CALLS, ids=[c[0] for c in CALLS])
async def test_admin_endpoint_needs_the_token(nursery: trio.Nursery, tmp_path: Path, path: str, body: Any, action: str,
                                              arguments: tuple[Any, ...]) -> None:
    recorder = Recorder()
    url = await start_api(nursery, sources(recorder.actions()), tmp_path)
    async with httpx.AsyncClient(base_url=url) as client:
        missing = await post(client, path, body, None)
        wrong = await post(client, path, body, TOKEN[:-1] + "X")
        assert recorder.calls == [] and audit_lines(tmp_path) == []
        right = await post(client, path, body, TOKEN)
    assert missing.status_code == 401 and "Bearer" in missing.json()["error"]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401 and wrong.json() == {"error": "wrong API token"}
    assert right.status_code == 200
    name = {"peers.connect": "connect", "peers.disconnect": "disconnect", "peers.ban": "ban", "peers.unban": "unban",
            "mining.start": "mining_start", "mining.stop": "mining_stop"}[action]
    assert right.json() == {"ok": True, "message": f"{name} done"}
    assert recorder.calls == [(name, arguments)]
    [line] = audit_lines(tmp_path)
    assert line["action"] == action and line["client"] == "127.0.0.1"
    assert line["outcome"] == "ok" and line["message"] == f"{name} done"
    assert tuple(line["arguments"].values())[: len(arguments)] == arguments
    assert line["time"].endswith("Z") and line["time"][:2] == "20"


async def test_refused_unavailable_and_malformed(nursery: trio.Nursery, tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.refuse = True
    actions = AdminActions(ban=recorder.action("ban"))
    url = await start_api(nursery, sources(actions), tmp_path)
    async with httpx.AsyncClient(base_url=url) as client:
        refused = await post(client, "/api/peers/ban", {"peer_id": "QmPeer"}, TOKEN)
        unavailable = await post(client, "/api/mining/start", None, TOKEN)
        malformed = await post(client, "/api/peers/ban", {"peer_id": "QmPeer", "duration": -5}, TOKEN)
        empty = await post(client, "/api/p2p/connect", "", TOKEN)
        unauthorised_malformed = await post(client, "/api/peers/ban", {"nonsense": 1}, None)
    assert (refused.status_code, refused.json()) == (400, {"ok": False, "message": "ban refused"})
    assert (unavailable.status_code, unavailable.json()) == (409, {"error": "not available on this node"})
    assert malformed.status_code == 422 and malformed.json()["details"][0]["where"] == "body.duration"
    assert empty.status_code == 400
    assert unauthorised_malformed.status_code == 401
    assert recorder.calls == [("ban", ("QmPeer", 86400.0, "banned by the operator"))]
    assert [(line["action"], line["outcome"]) for line in audit_lines(tmp_path)] == [
        ("peers.ban", "refused"), ("mining.start", "unavailable")]


async def test_an_action_that_fails_is_audited_and_answers_500(nursery: trio.Nursery, tmp_path: Path) -> None:
    async def broken(peer_id: str) -> tuple[bool, str]:
        raise RuntimeError("the peer manager is gone")

    url = await start_api(nursery, sources(AdminActions(unban=broken)), tmp_path)
    async with httpx.AsyncClient(base_url=url) as client:
        reply = await post(client, "/api/peers/unban", {"peer_id": "QmPeer"}, TOKEN)
    assert (reply.status_code, reply.json()) == (500, {"error": "internal error (the node's log has the details)"})
    [line] = audit_lines(tmp_path)
    assert (line["outcome"], line["message"]) == ("error", "RuntimeError: the peer manager is gone")


def test_the_datadir_token_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    token = resolve_token(tmp_path)
    path = tmp_path / "api-token"
    assert len(token) >= 32 and path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_token(tmp_path) == token
    path.chmod(0o644)
    assert resolve_token(tmp_path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_configured_token_or_token_file_wins(tmp_path: Path) -> None:
    assert resolve_token(tmp_path, "a-configured-token-1234") == "a-configured-token-1234"
    token_file = tmp_path / "secret"
    token_file.write_text("token-from-a-file-5678\n")
    assert resolve_token(tmp_path, None, token_file) == "token-from-a-file-5678"
    assert not (tmp_path / "api-token").exists()


@pytest.mark.parametrize(("token", "token_file", "message"), [
    ("short", None, "16 to 1024 printable ASCII"),
    ("has spaces in the middle", None, "must not contain spaces"),
    (None, "missing", "cannot read the API token file"),
    (None, "empty", "16 to 1024"),
])
def test_unusable_tokens_are_config_errors(tmp_path: Path, token: str | None, token_file: str | None,
                                           message: str) -> None:
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match=message):
        resolve_token(tmp_path, token, tmp_path / token_file if token_file else None)
