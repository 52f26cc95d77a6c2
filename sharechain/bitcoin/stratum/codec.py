"""Stratum v1 wire format: line framing with a size cap and JSON-RPC messages, with no I/O.

Like h11, a :class:`LineBuffer` is fed bytes and hands back complete lines; :func:`parse_message`
turns a line into a frozen message or raises :class:`RemoteProtocolError` carrying the error code and
the request id to answer with. Encoders produce the exact text miners expect (Python's default JSON
separators, ``id``/``result``/``error`` in that order, one ``\\n`` per line).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

JsonId = int | str | None

# Stratum's own error codes (the first element of the ``error`` array).
OTHER: Final = 20
JOB_NOT_FOUND: Final = 21
DUPLICATE_SHARE: Final = 22
LOW_DIFFICULTY: Final = 23
UNAUTHORIZED: Final = 24
NOT_SUBSCRIBED: Final = 25
# JSON-RPC codes for lines that are not a well-formed request at all.
PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601

DEFAULT_MAX_LINE = 16 * 1024
# Numbers in a line are refused past these lengths before they are converted (Stratum's numbers are
# ids, difficulties and small counts; int() of a long digit string costs quadratic time).
MAX_INT_DIGITS = 40
MAX_FLOAT_CHARS = 64


class RemoteProtocolError(Exception):
    """The peer sent something we must refuse; ``code``/``message``/``id`` say how to answer it."""

    def __init__(self, code: int, message: str, request_id: JsonId = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


class LocalProtocolError(Exception):
    """We tried to send something the protocol does not allow (a bug on our side)."""


@dataclass(frozen=True)
class Request:
    """A method call; ``id`` is None for a notification-style call (which still gets an answer)."""

    id: JsonId
    method: str
    params: list[object]


@dataclass(frozen=True)
class Response:
    id: JsonId
    result: object
    error: object


@dataclass(frozen=True)
class LineTooLong:
    """A line passed the size cap; its remaining bytes up to the next newline are dropped."""

    limit: int


class NeedData:
    """Sentinel: no complete line buffered yet."""


NEED_DATA: Final = NeedData()


class LineBuffer:
    """Splits a byte stream into ``\\n``-terminated lines, refusing any line longer than ``max_line``."""

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._max_line = max_line
        self._buffer = bytearray()
        self._discarding = False

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def next_line(self) -> bytes | LineTooLong | NeedData:
        """The next complete line (without its newline), a LineTooLong notice, or NEED_DATA."""
        while True:
            end = self._buffer.find(b"\n")
            if self._discarding:
                if end < 0:
                    self._buffer.clear()
                    return NEED_DATA
                del self._buffer[: end + 1]
                self._discarding = False
                continue
            if end < 0:
                if len(self._buffer) > self._max_line:
                    self._buffer.clear()
                    self._discarding = True
                    return LineTooLong(self._max_line)
                return NEED_DATA
            if end > self._max_line:
                del self._buffer[: end + 1]
                return LineTooLong(self._max_line)
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            return line

    @property
    def buffered(self) -> int:
        return len(self._buffer)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} characters (limit {MAX_INT_DIGITS} digits)")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_FLOAT_CHARS:
        raise ValueError(f"a number of {len(text)} characters (limit {MAX_FLOAT_CHARS})")
    return float(text)


# What json.loads(text, parse_constant=..., parse_int=..., parse_float=...) would build for every line, built once.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_bounded_int, parse_float=_bounded_float)


def parse_message(line: bytes) -> Request | Response:
    """A request (has ``method``) or a response (has ``result``/``error``) from one line."""
    try:
        text = line.decode("utf-8")
        obj = _DECODER.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RemoteProtocolError(PARSE_ERROR, f"Parse error: {_short(exc)}") from None
    if not isinstance(obj, dict):
        raise RemoteProtocolError(INVALID_REQUEST, "Invalid request: a message must be a JSON object")
    request_id = obj.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str, type(None))):
        raise RemoteProtocolError(INVALID_REQUEST, "Invalid request: id must be an integer, a string or null")
    if "method" in obj:
        method = obj["method"]
        if not isinstance(method, str):
            raise RemoteProtocolError(INVALID_REQUEST, "Invalid request: method must be a string", request_id)
        params = obj.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            raise RemoteProtocolError(INVALID_REQUEST, "Invalid request: params must be an array", request_id)
        return Request(request_id, method, params)
    if "result" in obj or "error" in obj:
        return Response(request_id, obj.get("result"), obj.get("error"))
    raise RemoteProtocolError(INVALID_REQUEST, "Invalid request: no method", request_id)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _dump(obj: dict[str, object]) -> bytes:
    try:
        return json.dumps(obj, allow_nan=False).encode() + b"\n"
    except (TypeError, ValueError) as exc:
        raise LocalProtocolError(f"cannot encode {obj!r}: {exc}") from exc


def encode_result(request_id: JsonId, result: object) -> bytes:
    if result is True and type(request_id) is int:  # most answers: an accepted submit (what json.dumps writes)
        return b'{"id": %d, "result": true, "error": null}\n' % request_id
    return _dump({"id": request_id, "result": result, "error": None})


def encode_error(request_id: JsonId, code: int, message: str) -> bytes:
    """An error answer in the de facto Stratum shape ``[code, message, null]``."""
    return _dump({"id": request_id, "result": None, "error": [code, message, None]})


def encode_notification(method: str, params: list[object]) -> bytes:
    """A server-to-miner notification (``id`` null), e.g. mining.notify."""
    return _dump({"id": None, "method": method, "params": params})


def encode_request(request_id: JsonId, method: str, params: list[object]) -> bytes:
    """A miner-to-server call, e.g. mining.submit."""
    return _dump({"id": request_id, "method": method, "params": params})


def error_code_and_message(error: object) -> tuple[int, str] | None:
    """The code and text of a response's ``error`` field in any of the shapes servers use, or None."""
    if error is None or error is False:
        return None
    if isinstance(error, list) and error:
        code = error[0] if isinstance(error[0], int) else OTHER
        message = str(error[1]) if len(error) > 1 else ""
        return code, message
    if isinstance(error, dict):
        raw_code = error.get("code")
        return (raw_code if isinstance(raw_code, int) else OTHER), str(error.get("message", ""))
    return OTHER, str(error)
