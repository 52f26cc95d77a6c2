"""The devchain's JSON-RPC methods, answering as bitcoind does (same names, shapes and error codes)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from p2pool.devchain.service import Devchain
from p2pool.devchain.views import block_json, difficulty, header_json
from p2pool.http.server import Request, Response
from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.bitcoin.serialize import ParseError

log = logging.getLogger(__name__)

# Bitcoin Core's RPC error codes.
RPC_MISC_ERROR = -1
RPC_TYPE_ERROR = -3
RPC_INVALID_ADDRESS_OR_KEY = -5
RPC_INVALID_PARAMETER = -8
RPC_DESERIALIZATION_ERROR = -22
RPC_INVALID_REQUEST = -32600
RPC_METHOD_NOT_FOUND = -32601
RPC_PARSE_ERROR = -32700

_VERSION = 310000
_SUBVERSION = "/Otedama-devchain:0.1.0/"


class RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _arg(params: list[Any], index: int, name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    if index >= len(params) or params[index] is None:
        if default is ...:
            raise RpcFailure(RPC_MISC_ERROR, f"missing required argument '{name}'")
        return default
    value = params[index]
    if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
        raise RpcFailure(RPC_TYPE_ERROR, f"argument '{name}' has the wrong type ({type(value).__name__})")
    return value


def _hash_arg(params: list[Any], index: int, name: str) -> bytes:
    text = _arg(params, index, name, str)
    if len(text) != 64:
        raise RpcFailure(RPC_INVALID_PARAMETER, f"{name} must be of length 64 (not {len(text)}, for '{text}')")
    try:
        return bytes.fromhex(text)[::-1]
    except ValueError:
        raise RpcFailure(RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{text}')") from None


def _decode_block(text: Any) -> Block:
    if not isinstance(text, str):
        raise RpcFailure(RPC_TYPE_ERROR, "block data must be a hex string")
    try:
        block = Block.parse(bytes.fromhex(text))
    except (ValueError, ParseError):
        raise RpcFailure(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None
    if not block.transactions or not block.transactions[0].is_coinbase():
        raise RpcFailure(RPC_DESERIALIZATION_ERROR, "Block does not start with a coinbase")
    return block


class DevchainRpc:
    """Turns HTTP requests into devchain calls; ``handle`` is the :func:`serve_http` handler."""

    def __init__(self, devchain: Devchain, clock: Callable[[], float] = time.time,
                 auth: tuple[str, str] | None = None) -> None:
        self.devchain = devchain
        self._clock = clock
        self._auth = auth
        self._methods: dict[str, Callable[[list[Any]], Awaitable[Any]]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("rpc_")
        }

    def _now(self) -> int:
        return int(self._clock())

    def _authorized(self, request: Request) -> bool:
        if self._auth is None:
            return True
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        expected = f"{self._auth[0]}:{self._auth[1]}".encode()
        return hmac.compare_digest(given, expected)

    async def handle(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response(401, b"", headers=(("www-authenticate", 'Basic realm="jsonrpc"'),))
        if request.method != "POST":
            return Response.text("JSONRPC server handles only POST requests\n", 405)
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return Response.json(_reply(None, None, RpcFailure(RPC_PARSE_ERROR, "Parse error")), 500)
        if isinstance(body, list):
            return Response.json([await self._one(item) for item in body])
        reply = await self._one(body)
        error = reply["error"]
        status = 200 if error is None else 404 if error["code"] == RPC_METHOD_NOT_FOUND else 500
        return Response.json(reply, status)

    async def _one(self, call: Any) -> dict[str, Any]:
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            return _reply(None, None, RpcFailure(RPC_INVALID_REQUEST, "Invalid Request object"))
        call_id = call.get("id")
        method = self._methods.get(call["method"])
        if method is None:
            return _reply(call_id, None, RpcFailure(RPC_METHOD_NOT_FOUND, "Method not found"))
        params = call.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            return _reply(call_id, None, RpcFailure(RPC_INVALID_REQUEST, "Params must be an array"))
        try:
            return _reply(call_id, await method(params), None)
        except RpcFailure as exc:
            return _reply(call_id, None, exc)

    # Mining
    async def rpc_getblocktemplate(self, params: list[Any]) -> Any:
        request = _arg(params, 0, "template_request", dict, {})
        if request.get("mode", "template") == "proposal":
            return self.devchain.propose(_decode_block(request.get("data")), self._now())
        if request.get("mode", "template") != "template":
            raise RpcFailure(RPC_INVALID_PARAMETER, "Invalid mode")
        rules = request.get("rules", [])
        if not isinstance(rules, list) or "segwit" not in rules:
            raise RpcFailure(RPC_INVALID_PARAMETER, 'getblocktemplate must be called with the segwit rule set '
                                                    '(call with {"rules": ["segwit"]})')
        longpollid = request.get("longpollid")
        if longpollid is not None:
            if not isinstance(longpollid, str):
                raise RpcFailure(RPC_TYPE_ERROR, "longpollid must be a string")
            await self.devchain.wait_for_new_tip(longpollid, self.devchain.config.longpoll_timeout)
        return self.devchain.template(self._now())

    async def rpc_submitblock(self, params: list[Any]) -> Any:
        block = _decode_block(_arg(params, 0, "hexdata", str))
        return self.devchain.submit(block, self._now())

    async def rpc_getmininginfo(self, params: list[Any]) -> Any:
        state = self.devchain.state
        return {"blocks": state.height, "difficulty": difficulty(self.devchain.params.bits),
                "networkhashps": 0, "pooledtx": len(self.devchain.mempool()),
                "chain": self.devchain.config.chain_name, "warnings": ""}

    # Chain
    async def rpc_getblockcount(self, params: list[Any]) -> Any:
        return self.devchain.state.height

    async def rpc_getbestblockhash(self, params: list[Any]) -> Any:
        return hash_to_hex(self.devchain.state.tip.hash)

    async def rpc_getdifficulty(self, params: list[Any]) -> Any:
        return difficulty(self.devchain.params.bits)

    async def rpc_getblockhash(self, params: list[Any]) -> Any:
        block_hash = self.devchain.state.hash_at(_arg(params, 0, "height", int))
        if block_hash is None:
            raise RpcFailure(RPC_INVALID_PARAMETER, "Block height out of range")
        return hash_to_hex(block_hash)

    async def rpc_getblock(self, params: list[Any]) -> Any:
        block_hash = _hash_arg(params, 0, "blockhash")
        verbosity = _arg(params, 1, "verbosity", (int, bool), 1)
        state = self.devchain.state
        index, block = state.get(block_hash), state.block(block_hash)
        if index is None or block is None:
            raise RpcFailure(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        if int(verbosity) == 0:
            return block.serialize().hex()
        return block_json(state, index, block, int(verbosity), self.devchain.config.address_format)

    async def rpc_getblockheader(self, params: list[Any]) -> Any:
        index = self.devchain.state.get(_hash_arg(params, 0, "blockhash"))
        if index is None:
            raise RpcFailure(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        if not _arg(params, 1, "verbose", bool, True):
            return index.header.serialize().hex()
        block = self.devchain.state.block(index.hash)
        return header_json(self.devchain.state, index) | {"nTx": len(block.transactions) if block else 0}

    async def rpc_getblockchaininfo(self, params: list[Any]) -> Any:
        state = self.devchain.state
        tip = state.tip
        return {
            "chain": self.devchain.config.chain_name, "blocks": state.height, "headers": state.height,
            "bestblockhash": hash_to_hex(tip.hash), "bits": f"{tip.header.bits:08x}",
            "difficulty": difficulty(tip.header.bits), "time": tip.header.timestamp,
            "mediantime": state.median_time_past(tip.hash), "verificationprogress": 1.0,
            "initialblockdownload": False, "chainwork": f"{tip.chainwork:064x}", "pruned": False, "warnings": "",
        }

    async def rpc_getnetworkinfo(self, params: list[Any]) -> Any:
        return {"version": _VERSION, "subversion": _SUBVERSION, "protocolversion": 70016,
                "localservices": "0000000000000409", "localrelay": True, "timeoffset": 0, "networkactive": True,
                "connections": 0, "connections_in": 0,
                "connections_out": 0, "networks": [], "relayfee": 0.00001, "incrementalfee": 0.00001,
                "localaddresses": [], "warnings": ""}

    async def rpc_getconnectioncount(self, params: list[Any]) -> Any:
        return 0


def _reply(call_id: Any, result: Any, error: RpcFailure | None) -> dict[str, Any]:
    err = None if error is None else {"code": error.code, "message": error.message}
    return {"result": result, "error": err, "id": call_id}
