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
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import trio

from p2pool.chain.backend import ChainUnavailable, RpcError, SubmitResult
from p2pool.chain.events import RpcCalled
from p2pool.chain.template import BlockTemplate

T = TypeVar("T")


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

    def __aiter__(self) -> _Body._Once:
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


def parse_reply(method: str, status: int, content: bytes, *, url: str, auth_source: str) -> Any:
    """The ``result`` of one JSON-RPC reply (pure), or why there is none.

    Raises :class:`ChainUnavailable` when the reply is not a usable JSON-RPC answer (authentication,
    not JSON, not an object, the node not ready) and :class:`RpcError` for an error the call itself got.
    """
    if status == 401:
        raise ChainUnavailable(url, f"authentication refused (HTTP 401): check the {auth_source}")
    if status == 403:
        raise ChainUnavailable(url, "forbidden (HTTP 403): is this host allowed by rpcallowip?")
    try:
        body = json.loads(content, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ChainUnavailable(url, f"HTTP {status} without a JSON-RPC reply: {_shown(content)}") from None
    if not isinstance(body, dict) or ("result" not in body and "error" not in body):
        raise ChainUnavailable(url, f"HTTP {status}: not a JSON-RPC reply: {_shown(content)}")
    error = body.get("error")
    if error is not None:
        code = error.get("code", 0) if isinstance(error, dict) else 0
        if isinstance(code, bool) or not isinstance(code, int):
            code = 0
        message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
        message = message if len(message) <= 300 else message[:297] + "..."
        if code in _NOT_READY:
            raise ChainUnavailable(url, f"{_NOT_READY[code]} (RPC error {code}: {message})")
        raise RpcError(method, code, message)
    return body.get("result")


def typed_result(method: str, value: Any, kind: type[T]) -> T:
    """``value`` if it is a ``kind`` (never a bool for int), else an RpcError naming what came instead."""
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise RpcError(method, 0, f"expected {kind.__name__}, got {type(value).__name__}")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _shown(content: bytes) -> str:
    return repr(content[:120].decode("utf-8", "replace"))


class BitcoindClient:
    """A bitcoind JSON-RPC client that is also a :class:`~p2pool.chain.backend.ChainBackend`."""

    def __init__(self, url: str, *, cookie_file: str | os.PathLike[str] | None = None,
                 timeout: float | None = 30.0, publish: Callable[[object], None] | None = None) -> None:
        # ``publish`` hears an :class:`~p2pool.chain.events.RpcCalled` after every call (metrics).
        self._publish = publish
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

    async def call(self, method: str, *params: Any, timeout: float | _Default | None = _Default.TIMEOUT) -> Any:
        """One JSON-RPC call; ``timeout`` None waits forever (long polls); by default the client's timeout."""
        # A node stopping closes this client as it is cancelled; a task woken with a reply at that moment
        # must stop here rather than start a request on the closed client (a RuntimeError, not Cancelled).
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._publish is None:
            return await self._call(method, params, timeout)
        # A long poll's time is the wait for a new block, not latency: it has a name of its own.
        name = f"{method}_longpoll" if timeout is None else method
        started = trio.current_time()
        try:
            result = await self._call(method, params, timeout)
        except ChainUnavailable:
            self._publish(RpcCalled(name, trio.current_time() - started, "unavailable"))
            raise
        except RpcError:
            self._publish(RpcCalled(name, trio.current_time() - started, "rpc"))
            raise
        self._publish(RpcCalled(name, trio.current_time() - started))
        return result

    async def _call(self, method: str, params: tuple[Any, ...], timeout: float | _Default | None) -> Any:
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
        source = f"cookie file {self._cookie_file}" if self._cookie_file else "rpcuser/rpcpassword in the URL"
        return parse_reply(method, reply.status_code, reply.content, url=self.display_url, auth_source=source)

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
        return typed_result("getblockcount", await self.call("getblockcount"), int)

    async def getbestblockhash(self) -> str:
        return typed_result("getbestblockhash", await self.call("getbestblockhash"), str)

    async def getblockhash(self, height: int) -> str:
        return typed_result("getblockhash", await self.call("getblockhash", height), str)

    async def getblock(self, blockhash: str, verbosity: int = 1) -> Any:
        return await self.call("getblock", blockhash, verbosity)

    async def getblockheader(self, blockhash: str) -> dict[str, Any]:
        """The verbose header: ``confirmations`` is -1 for a block that is not in the best chain."""
        return dict(await self.call("getblockheader", blockhash, True))

    async def getblockchaininfo(self) -> dict[str, Any]:
        return typed_result("getblockchaininfo", await self.call("getblockchaininfo"), dict)

    # ChainBackend
    async def get_template(self) -> BlockTemplate:
        return BlockTemplate.from_rpc(await self.getblocktemplate())

    async def wait_for_template(self, longpollid: str) -> BlockTemplate:
        return BlockTemplate.from_rpc(await self.getblocktemplate(longpollid))

    async def submit_block(self, block: bytes) -> SubmitResult:
        return await self.submitblock(block)
