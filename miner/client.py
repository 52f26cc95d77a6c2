"""The miner's side of Stratum v1, with no I/O: builds requests and turns server lines into events.

Follows cpuminer's rules: a ``mining.set_difficulty`` applies from the next ``mining.notify`` on, and
each job carries the difficulty in force when it arrived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from sharechain.bitcoin.stratum import codec as p
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target, from_wire
from sharechain.bitcoin.stratum.work import swap_words, u32_hex

DEFAULT_VERSION_MASK = 0x1FFFE000
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


@dataclass(frozen=True)
class MinerJob:
    """A job as a miner sees it; hashes in internal order, integers as the header holds them."""

    job_id: str
    prev_hash: bytes
    coinb1: bytes
    coinb2: bytes
    merkle_branch: tuple[bytes, ...]
    version: int
    bits: int
    ntime: int
    clean: bool
    difficulty: Fraction
    target: int


@dataclass(frozen=True)
class Subscribed:
    extranonce1: bytes
    extranonce2_size: int


@dataclass(frozen=True)
class Authorized:
    username: str
    ok: bool
    error: str | None


@dataclass(frozen=True)
class VersionRolling:
    """The server's answer to mining.configure; mask 0 means no version rolling."""

    mask: int


@dataclass(frozen=True)
class DifficultySet:
    difficulty: Fraction


@dataclass(frozen=True)
class NewJob:
    job: MinerJob


@dataclass(frozen=True)
class SubmitResult:
    request_id: int
    job_id: str
    accepted: bool
    error: tuple[int, str] | None


@dataclass(frozen=True)
class RequestFailed:
    """A subscribe/configure/other request the server refused."""

    method: str
    error: tuple[int, str] | None


Event = Subscribed | Authorized | VersionRolling | DifficultySet | NewJob | SubmitResult | RequestFailed


class ClientConnection:
    """One miner-to-server connection's protocol state."""

    def __init__(self, user_agent: str = "otedama-miner/0.1", max_line: int = 1 << 20) -> None:
        self.user_agent = user_agent
        self._lines = p.LineBuffer(max_line)
        self._next_id = 1
        self._pending: dict[int, tuple[str, str]] = {}  # id -> (method, detail)
        self.extranonce1: bytes | None = None
        self.extranonce2_size = 0
        self.difficulty = Fraction(1)
        self.version_mask = 0
        self.job: MinerJob | None = None

    # -- requests ------------------------------------------------------------------------------

    def _request(self, method: str, params: list[object], detail: str = "") -> bytes:
        request_id = self._next_id
        self._next_id += 1
        self._pending[request_id] = (method, detail)
        return p.encode_request(request_id, method, params)

    def configure(self, mask: int = DEFAULT_VERSION_MASK, min_bit_count: int = 2) -> bytes:
        """BIP310 version-rolling negotiation (sent before subscribe, as ASIC firmware does)."""
        params = {"version-rolling.mask": f"{mask:08x}", "version-rolling.min-bit-count": min_bit_count}
        return self._request("mining.configure", [["version-rolling"], params])

    def subscribe(self) -> bytes:
        return self._request("mining.subscribe", [self.user_agent])

    def authorize(self, username: str, password: str) -> bytes:
        return self._request("mining.authorize", [username, password], username)

    def submit(
        self, username: str, job_id: str, extranonce2: bytes, ntime: int, nonce: int, version_bits: int | None = None
    ) -> bytes:
        """mining.submit; ``nonce`` and ``ntime`` are the header's uint32 values, version_bits if rolled."""
        params: list[object] = [username, job_id, extranonce2.hex(), u32_hex(ntime), u32_hex(nonce)]
        if version_bits is not None:
            params.append(u32_hex(version_bits))
        return self._request("mining.submit", params, job_id)

    @property
    def last_request_id(self) -> int:
        return self._next_id - 1

    # -- input ---------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Events for every complete line; RemoteProtocolError if the server sends garbage."""
        self._lines.receive_data(data)
        events: list[Event] = []
        while True:
            line = self._lines.next_line()
            if isinstance(line, p.NeedData):
                return events
            if isinstance(line, p.LineTooLong):
                raise p.RemoteProtocolError(p.PARSE_ERROR, f"server line longer than {line.limit} bytes")
            if line.strip():
                events.extend(self._handle(p.parse_message(line)))

    def _handle(self, message: p.Request | p.Response) -> list[Event]:
        if isinstance(message, p.Response):
            return self._response(message)
        if message.method == "mining.set_difficulty":
            if not message.params:
                raise p.RemoteProtocolError(p.OTHER, "mining.set_difficulty without a difficulty")
            try:
                self.difficulty = from_wire(message.params[0])
            except ValueError as exc:
                raise p.RemoteProtocolError(p.OTHER, f"bad difficulty: {exc}") from None
            return [DifficultySet(self.difficulty)]
        if message.method == "mining.notify":
            self.job = parse_notify(message.params, self.difficulty)
            return [NewJob(self.job)]
        if message.method == "mining.set_version_mask" and message.params and isinstance(message.params[0], str):
            self.version_mask = _hex_u32(message.params[0], "version mask")
            return [VersionRolling(self.version_mask)]
        return []  # client.reconnect, client.show_message, ...: not needed here

    def _response(self, message: p.Response) -> list[Event]:
        if not isinstance(message.id, int) or message.id not in self._pending:
            return []
        method, detail = self._pending.pop(message.id)
        error = p.error_code_and_message(message.error)
        if method == "mining.submit":
            return [SubmitResult(message.id, detail, message.result is True and error is None, error)]
        if method == "mining.authorize":
            ok = message.result is True and error is None
            return [Authorized(detail, ok, None if ok else (error[1] if error else "refused"))]
        if error is not None:
            if method == "mining.configure":
                self.version_mask = 0
                return [VersionRolling(0)]
            return [RequestFailed(method, error)]
        if method == "mining.subscribe":
            return [self._subscribed(message.result)]
        if method == "mining.configure":
            return [self._configured(message.result)]
        return []

    def _subscribed(self, result: object) -> Subscribed:
        if not isinstance(result, list) or len(result) < 3:
            raise p.RemoteProtocolError(p.OTHER, "mining.subscribe result must be [subscriptions, extranonce1, size]")
        extranonce1, size = result[1], result[2]
        if not isinstance(extranonce1, str) or not _HEX.fullmatch(extranonce1):
            raise p.RemoteProtocolError(p.OTHER, "extranonce1 must be hex")
        if not isinstance(size, int) or not 1 <= size <= 16:
            raise p.RemoteProtocolError(p.OTHER, "extranonce2 size must be 1..16")
        self.extranonce1, self.extranonce2_size = bytes.fromhex(extranonce1), size
        return Subscribed(self.extranonce1, size)

    def _configured(self, result: object) -> VersionRolling:
        mask = 0
        if isinstance(result, dict) and result.get("version-rolling") is True:
            raw = result.get("version-rolling.mask")
            mask = _hex_u32(raw, "version-rolling.mask") if isinstance(raw, str) else 0
        self.version_mask = mask
        return VersionRolling(mask)


def _hex_u32(value: str, name: str) -> int:
    if not 1 <= len(value) <= 8:
        raise p.RemoteProtocolError(p.OTHER, f"{name} must be 8 hex digits")
    try:
        return int(value, 16)
    except ValueError:
        raise p.RemoteProtocolError(p.OTHER, f"{name} must be hex") from None


def _hex_bytes(value: object, name: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value) or (size is not None and len(value) != 2 * size):
        raise p.RemoteProtocolError(p.OTHER, f"mining.notify: bad {name}")
    return bytes.fromhex(value)


def parse_notify(params: list[object], difficulty: Fraction) -> MinerJob:
    """The nine mining.notify parameters as a job at ``difficulty`` (the one in force now)."""
    if len(params) < 9:
        raise p.RemoteProtocolError(p.OTHER, "mining.notify needs 9 parameters")
    job_id, branch = params[0], params[4]
    if not isinstance(job_id, str) or not isinstance(branch, list):
        raise p.RemoteProtocolError(p.OTHER, "mining.notify: bad job id or merkle branch")
    return MinerJob(
        job_id=job_id,
        prev_hash=swap_words(_hex_bytes(params[1], "prevhash", 32)),
        coinb1=_hex_bytes(params[2], "coinb1"),
        coinb2=_hex_bytes(params[3], "coinb2"),
        merkle_branch=tuple(_hex_bytes(h, "merkle branch", 32) for h in branch),
        version=int.from_bytes(_hex_bytes(params[5], "version", 4), "big"),
        bits=int.from_bytes(_hex_bytes(params[6], "nbits", 4), "big"),
        ntime=int.from_bytes(_hex_bytes(params[7], "ntime", 4), "big"),
        clean=params[8] is True,
        difficulty=difficulty,
        target=difficulty_to_target(difficulty),
    )
