"""JSON-RPC client for bitcoind (Core, SV, or the embedded devchain) over HTTP with httpx.

Credentials come from the URL (``http://user:pass@host:port``) or from a cookie file
(``__cookie__:password``, re-read when the node restarts). Timeouts are trio deadlines around each
call, so they follow trio's clock; a call that times out raises :class:`ChainUnavailable`.
"""

from __future__ import annotations

import enum
import itertools
import json
import os
from contextlib import nullcontext
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import trio

from p2pool.chain.backend import ChainUnavailable, RpcError, SubmitResult
from p2pool.chain.template import BlockTemplate


class _Default(enum.Enum):
    TIMEOUT = "the client's timeout"


# RPC error codes that mean "not ready yet" rather than "this call is wrong".
_NOT_READY = {
    -28: "node is warming up",
    -9: "node has no peers",
    -10: "node is still downloading blocks",
}


def _split_url(url: str) -> tuple[str, str, httpx.BasicAuth | None]:
    """The URL without credentials, the same for messages (user kept, password dropped), and the auth."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"bitcoind URL must look like http://user:pass@host:port, got {url!r}")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    shown = bare if parts.username is None else bare.replace("//", f"//{unquote(parts.username)}@", 1)
    auth = None
    if parts.username is not None:
        auth = httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))
    return bare, shown, auth


class _Body(httpx.AsyncByteStream):
    """A request body whose iterator is a plain object, not an async generator.

    httpx's own body stream is an async generator; a request cancelled while its body is being sent
    (a long poll at shutdown) leaves it unfinished, and trio warns when it is collected.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __aiter__(self) -> _Body._Once:  # type: ignore[override]
        return _Body._Once(self._data)

    class _Once:
        def __init__(self, data: bytes) -> None:
            self._data: bytes | None = data

        def __aiter__(self) -> _Body._Once:
            return self

        async def __anext__(self) -> bytes:
            if self._data is None:
                raise StopAsyncIteration
            data, self._data = self._data, None
            return data


class BitcoindClient:
    """A bitcoind JSON-RPC client that is also a :class:`~p2pool.chain.backend.ChainBackend`."""

    def __init__(self, url: str, *, cookie_file: str | os.PathLike[str] | None = None,
                 timeout: float | None = 30.0) -> None:
        self._url, self.display_url, self._auth = _split_url(url)
        self._cookie_file = Path(cookie_file) if cookie_file is not None and self._auth is None else None
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(None), headers={"content-type": "application/json"})

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _unavailable(self, reason: str) -> ChainUnavailable:
        return ChainUnavailable(self.display_url, reason)

    def _cookie_auth(self) -> httpx.BasicAuth:
        assert self._cookie_file is not None
        try:
            text = self._cookie_file.read_text().strip()
        except OSError as exc:
            raise self._unavailable(f"cannot read cookie file {self._cookie_file}: {exc.strerror or exc}") from None
        user, sep, password = text.partition(":")
        if not sep:
            raise self._unavailable(f"cookie file {self._cookie_file} is not 'user:password'")
        return httpx.BasicAuth(user, password)

    async def call(self, method: str, *params: Any, timeout: float | None | _Default = _Default.TIMEOUT) -> Any:
        """One JSON-RPC call; ``timeout`` None waits forever (long polls); by default the client's timeout."""
        # A node stopping closes this client as it is cancelled; a task woken with a reply at that moment
        # must stop here rather than start a request on the closed client (a RuntimeError, not Cancelled).
        await trio.lowlevel.checkpoint_if_cancelled()
        limit = self._timeout if isinstance(timeout, _Default) else timeout
        payload = {"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": list(params)}
        try:
            with trio.fail_after(limit) if limit is not None else nullcontext():
                reply = await self._post(payload)
                if reply.status_code == 401 and self._cookie_file is not None:
                    reply = await self._post(payload)  # the node may have restarted with a new cookie
        except trio.TooSlowError:
            raise self._unavailable(f"{method} timed out after {limit:g} s") from None
        except httpx.ConnectError as exc:
            raise self._unavailable(f"cannot connect ({exc or 'connection refused'})") from None
        except httpx.TransportError as exc:
            raise self._unavailable(f"{method}: {type(exc).__name__}: {exc or 'connection lost'}") from None
        return self._result(method, reply)

    async def _post(self, payload: dict[str, Any]) -> httpx.Response:
        auth = self._cookie_auth() if self._cookie_file is not None else self._auth
        body = json.dumps(payload).encode()
        request = self._http.build_request("POST", self._url, content=body)
        request.stream = _Body(body)
        return await self._http.send(request, auth=auth or httpx.USE_CLIENT_DEFAULT)

    def _result(self, method: str, reply: httpx.Response) -> Any:
        if reply.status_code == 401:
            source = f"cookie file {self._cookie_file}" if self._cookie_file else "rpcuser/rpcpassword in the URL"
            raise self._unavailable(f"authentication refused (HTTP 401): check the {source}")
        if reply.status_code == 403:
            raise self._unavailable("forbidden (HTTP 403): is this host allowed by rpcallowip?")
        try:
            body = reply.json()
        except ValueError:
            raise self._unavailable(f"HTTP {reply.status_code} without a JSON-RPC reply: {reply.text[:120]!r}") from None
        if not isinstance(body, dict) or "result" not in body and "error" not in body:
            raise self._unavailable(f"HTTP {reply.status_code}: not a JSON-RPC reply: {reply.text[:120]!r}")
        error = body.get("error")
        if error is not None:
            code = error.get("code", 0) if isinstance(error, dict) else 0
            message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
            if code in _NOT_READY:
                raise self._unavailable(f"{_NOT_READY[code]} (RPC error {code}: {message})")
            raise RpcError(method, code, message)
        return body.get("result")

    async def getblocktemplate(self, longpollid: str | None = None) -> dict[str, Any]:
        """The raw template; with ``longpollid`` it long polls (no client timeout)."""
        request: dict[str, Any] = {"rules": ["segwit"]}
        if longpollid is not None:
            request["longpollid"] = longpollid
        result = await self.call("getblocktemplate", request, timeout=None if longpollid else _Default.TIMEOUT)
        if not isinstance(result, dict):
            raise RpcError("getblocktemplate", 0, f"expected an object, got {type(result).__name__}")
        return result

    async def submitblock(self, block: bytes) -> SubmitResult:
        """Submit a block; any reject string or RPC error becomes a not-accepted result."""
        try:
            result = await self.call("submitblock", block.hex())
        except RpcError as exc:
            return SubmitResult(False, f"rpc error {exc.code}: {exc.message}")
        if result is None:
            return SubmitResult(True, None)
        if isinstance(result, str):
            return SubmitResult(False, result)
        return SubmitResult(False, f"unexpected submitblock result {result!r}")

    async def getblockcount(self) -> int:
        return int(await self.call("getblockcount"))

    async def getbestblockhash(self) -> str:
        return str(await self.call("getbestblockhash"))

    async def getblockhash(self, height: int) -> str:
        return str(await self.call("getblockhash", height))

    async def getblock(self, blockhash: str, verbosity: int = 1) -> Any:
        return await self.call("getblock", blockhash, verbosity)

    async def getblockchaininfo(self) -> dict[str, Any]:
        return dict(await self.call("getblockchaininfo"))

    # ChainBackend
    async def get_template(self) -> BlockTemplate:
        return BlockTemplate.from_rpc(await self.getblocktemplate())

    async def wait_for_template(self, longpollid: str) -> BlockTemplate:
        return BlockTemplate.from_rpc(await self.getblocktemplate(longpollid))

    async def submit_block(self, block: bytes) -> SubmitResult:
        return await self.submitblock(block)
