"""The sync protocol's messages and framing, sans I/O.

Every message travels as one frame: ``u32 length (little-endian) | u8 type | payload``. A
:class:`FrameDecoder` is fed bytes as they arrive and hands back whole messages; hostile input
(oversized frames, counts over the limits, unknown types, trailing bytes) raises
:class:`RemoteProtocolError`, which the adapter turns into a score penalty and a closed stream.
Encoding something over our own limits is our bug and raises :class:`LocalProtocolError`.

Version 1.1 of the protocol (its libp2p id ends in ``/sync/1.1.0``) adds :class:`GetJoin` and
:class:`JoinPlan` for a node joining from a recent share. A node speaks one version; a peer on another
version (or network) does not open our protocol at all, so an unknown message type is always a
malformed message.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from sharechain.bitcoin.serialize import ByteReader, ParseError, ser_varbytes, ser_varint
from sharechain.share import MAX_SHARE_SIZE

SYNC_VERSION = "1.1.0"
# Hard limits on what a peer may send or ask for.
MAX_FRAME = 8 << 20
MAX_LOCATOR = 64
MAX_HASHES = 20_000  # per Hashes reply (640 KB)
MAX_BY_HASH = 2_000  # hashes per GetSharesByHash
MAX_SHARES = 2_000  # shares per Shares reply
MAX_PEERS = 100
MAX_ADDR_SIZE = 300
MAX_WORK_BYTES = 40
MAX_RECENT_DEPTH = 100
# A join plan: every share a node keeps (mainnet: about 17,300 main-chain shares and their side
# shares), 121 bytes each, and the cumulative work of the few whose parent or uncles it does not keep.
MAX_JOIN_ENTRIES = 50_000
MAX_CLAIMS = 5_000

_LENGTH = struct.Struct("<I")


class RemoteProtocolError(ValueError):
    """The peer sent something the protocol forbids: its fault, grounds for a penalty."""


class OversizedMessage(RemoteProtocolError):
    """A frame longer than the limit, refused before it is buffered."""


class LocalProtocolError(ValueError):
    """We tried to send something the protocol forbids: our bug."""


@dataclass(frozen=True)
class GetTip:
    TYPE: ClassVar[int] = 1


@dataclass(frozen=True)
class Tip:
    """A peer's best share; ``height`` -1 and a zero hash when it has none."""

    TYPE: ClassVar[int] = 2
    hash: bytes
    height: int
    chain_work: int


@dataclass(frozen=True)
class GetShares:
    """Main-chain shares after the first ``locator`` hash the peer knows, up to ``stop`` (inclusive)."""

    TYPE: ClassVar[int] = 3
    locator: tuple[bytes, ...]
    stop: bytes
    max: int


@dataclass(frozen=True)
class Shares:
    """Serialized shares (``Share.serialize()``), parents before children."""

    TYPE: ClassVar[int] = 4
    shares: tuple[bytes, ...]


@dataclass(frozen=True)
class GetSharesByHash:
    TYPE: ClassVar[int] = 5
    hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class GetHashes:
    """Like :class:`GetShares`, but only the hashes: the inventory a download is planned from."""

    TYPE: ClassVar[int] = 6
    locator: tuple[bytes, ...]
    stop: bytes
    max: int


@dataclass(frozen=True)
class Hashes:
    TYPE: ClassVar[int] = 7
    hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class GetRecent:
    """Every share (main chain or not) at most ``depth`` heights below the tip, as :class:`Hashes`.

    Gossip may drop side shares; this is how nodes reconcile them while they can still be uncles.
    """

    TYPE: ClassVar[int] = 10
    depth: int


@dataclass(frozen=True)
class GetPeers:
    TYPE: ClassVar[int] = 8


@dataclass(frozen=True)
class Peers:
    """Multiaddrs (with ``/p2p/<id>``) of peers the sender knows."""

    TYPE: ClassVar[int] = 9
    addrs: tuple[str, ...]


@dataclass(frozen=True)
class GetJoin:
    """What a joining node needs (protocol 1.1): a :class:`JoinPlan` of every share the peer keeps."""

    TYPE: ClassVar[int] = 11


@dataclass(frozen=True, slots=True)
class JoinEntry:
    """One kept share, headers first: the header (its hash and proof of work), the share target it
    claims, its parent and height, and whether it is on the sender's main chain."""

    header: bytes
    share_bits: int
    prev_hash: bytes
    height: int
    main: bool


@dataclass(frozen=True, slots=True)
class WorkClaim:
    """The cumulative work the sender holds for a share whose parent or uncles it does not keep."""

    hash: bytes
    chain_work: int
    main_work: int


@dataclass(frozen=True)
class JoinPlan:
    """Every share the sender keeps, lowest height first (then by hash), and the claims its oldest need."""

    TYPE: ClassVar[int] = 12
    entries: tuple[JoinEntry, ...]
    claims: tuple[WorkClaim, ...]


Message = (GetTip | Tip | GetShares | Shares | GetSharesByHash | GetHashes | Hashes | GetPeers | Peers | GetRecent
           | GetJoin | JoinPlan)
REQUESTS = (GetTip, GetShares, GetSharesByHash, GetHashes, GetPeers, GetRecent, GetJoin)
# The reply type each request expects.
REPLY_TO: dict[type, type] = {GetTip: Tip, GetShares: Shares, GetSharesByHash: Shares, GetHashes: Hashes,
                              GetPeers: Peers, GetRecent: Hashes, GetJoin: JoinPlan}
_ENTRY = struct.Struct("<80sI32sIB")


# --- encoding --------------------------------------------------------------------------------------
def _hash_list(hashes: tuple[bytes, ...], limit: int) -> bytes:
    if len(hashes) > limit or any(len(h) != 32 for h in hashes):
        raise LocalProtocolError(f"hash list of {len(hashes)} entries (limit {limit}) or a hash not of 32 bytes")
    return ser_varint(len(hashes)) + b"".join(hashes)


def _work(value: int) -> bytes:
    if value < 0:
        raise LocalProtocolError("negative chain work")
    work = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if len(work) > MAX_WORK_BYTES:
        raise LocalProtocolError("chain work too large to encode")
    return ser_varbytes(work)


def _join_plan(message: JoinPlan) -> bytes:
    if len(message.entries) > MAX_JOIN_ENTRIES or len(message.claims) > MAX_CLAIMS:
        raise LocalProtocolError("join plan over the limits")
    parts = [ser_varint(len(message.entries))]
    for e in message.entries:
        if len(e.header) != 80 or len(e.prev_hash) != 32 or not 0 <= e.height < 1 << 32:
            raise LocalProtocolError("bad join entry")
        parts.append(_ENTRY.pack(e.header, e.share_bits, e.prev_hash, e.height, int(e.main)))
    parts.append(ser_varint(len(message.claims)))
    for c in message.claims:
        if len(c.hash) != 32:
            raise LocalProtocolError("bad work claim")
        parts += [c.hash, _work(c.chain_work), _work(c.main_work)]
    return b"".join(parts)


def _payload(message: Message) -> bytes:
    if isinstance(message, (GetTip, GetPeers, GetJoin)):
        return b""
    if isinstance(message, Tip):
        if len(message.hash) != 32 or not -1 <= message.height < 1 << 31:
            raise LocalProtocolError("bad tip")
        return message.hash + struct.pack("<i", message.height) + _work(message.chain_work)
    if isinstance(message, JoinPlan):
        return _join_plan(message)
    if isinstance(message, (GetShares, GetHashes)):
        if len(message.stop) != 32 or not 0 <= message.max < 1 << 32:
            raise LocalProtocolError("bad stop hash or max")
        return _hash_list(message.locator, MAX_LOCATOR) + message.stop + _LENGTH.pack(message.max)
    if isinstance(message, Shares):
        if len(message.shares) > MAX_SHARES or any(len(s) > MAX_SHARE_SIZE for s in message.shares):
            raise LocalProtocolError("too many or too large shares")
        return ser_varint(len(message.shares)) + b"".join(ser_varbytes(s) for s in message.shares)
    if isinstance(message, GetSharesByHash):
        return _hash_list(message.hashes, MAX_BY_HASH)
    if isinstance(message, Hashes):
        return _hash_list(message.hashes, MAX_HASHES)
    if isinstance(message, GetRecent):
        if not 0 <= message.depth <= MAX_RECENT_DEPTH:
            raise LocalProtocolError(f"depth {message.depth} over {MAX_RECENT_DEPTH}")
        return _LENGTH.pack(message.depth)
    if isinstance(message, Peers):
        encoded = [a.encode() for a in message.addrs]
        if len(encoded) > MAX_PEERS or any(len(a) > MAX_ADDR_SIZE for a in encoded):
            raise LocalProtocolError("too many or too long peer addresses")
        return ser_varint(len(encoded)) + b"".join(ser_varbytes(a) for a in encoded)
    raise LocalProtocolError(f"not a message: {message!r}")


def encode(message: Message) -> bytes:
    """One frame carrying ``message``."""
    body = bytes((message.TYPE,)) + _payload(message)
    if len(body) > MAX_FRAME:
        raise LocalProtocolError(f"frame of {len(body)} bytes exceeds {MAX_FRAME}")
    return _LENGTH.pack(len(body)) + body


# --- decoding --------------------------------------------------------------------------------------
def _read_hashes(reader: ByteReader, limit: int) -> tuple[bytes, ...]:
    return tuple(reader.read(32) for _ in range(reader.read_count(limit)))


def _read_join_plan(reader: ByteReader) -> JoinPlan:
    count = reader.read_count(MAX_JOIN_ENTRIES)
    raw = reader.read(_ENTRY.size * count)
    entries = []
    for header, bits, prev_hash, height, flags in _ENTRY.iter_unpack(raw):
        if flags > 1:
            raise ParseError("bad join entry flags")
        entries.append(JoinEntry(header, bits, prev_hash, height, flags == 1))
    claims = []
    for _ in range(reader.read_count(MAX_CLAIMS)):
        share_hash = reader.read(32)
        chain_work = int.from_bytes(reader.read_varbytes(MAX_WORK_BYTES), "big")
        claims.append(WorkClaim(share_hash, chain_work, int.from_bytes(reader.read_varbytes(MAX_WORK_BYTES), "big")))
    return JoinPlan(tuple(entries), tuple(claims))


def _decode_body(body: bytes) -> Message:
    reader = ByteReader(body)
    kind = reader.read_u8()
    message: Message
    if kind == GetTip.TYPE:
        message = GetTip()
    elif kind == GetJoin.TYPE:
        message = GetJoin()
    elif kind == JoinPlan.TYPE:
        message = _read_join_plan(reader)
    elif kind == GetPeers.TYPE:
        message = GetPeers()
    elif kind == Tip.TYPE:
        tip_hash = reader.read(32)
        height = int.from_bytes(reader.read(4), "little", signed=True)
        if height < -1:
            raise ParseError("negative height")
        message = Tip(tip_hash, height, int.from_bytes(reader.read_varbytes(MAX_WORK_BYTES), "big"))
    elif kind in (GetShares.TYPE, GetHashes.TYPE):
        locator = _read_hashes(reader, MAX_LOCATOR)
        stop, count = reader.read(32), reader.read_u32()
        message = GetShares(locator, stop, count) if kind == GetShares.TYPE else GetHashes(locator, stop, count)
    elif kind == Shares.TYPE:
        message = Shares(tuple(reader.read_varbytes(MAX_SHARE_SIZE) for _ in range(reader.read_count(MAX_SHARES))))
    elif kind == GetSharesByHash.TYPE:
        message = GetSharesByHash(_read_hashes(reader, MAX_BY_HASH))
    elif kind == Hashes.TYPE:
        message = Hashes(_read_hashes(reader, MAX_HASHES))
    elif kind == GetRecent.TYPE:
        depth = reader.read_u32()
        if depth > MAX_RECENT_DEPTH:
            raise ParseError(f"recent depth {depth} over the limit of {MAX_RECENT_DEPTH}")
        message = GetRecent(depth)
    elif kind == Peers.TYPE:
        raw = [reader.read_varbytes(MAX_ADDR_SIZE) for _ in range(reader.read_count(MAX_PEERS))]
        try:
            message = Peers(tuple(a.decode("ascii") for a in raw))
        except UnicodeDecodeError:
            raise ParseError("peer address is not ASCII") from None
    else:
        raise ParseError(f"unknown message type {kind}")
    reader.expect_end()
    return message


def decode(body: bytes) -> Message:
    """A frame's body (type byte and payload) as a message."""
    try:
        return _decode_body(body)
    except ParseError as exc:
        raise RemoteProtocolError(f"malformed message: {exc}") from None


class FrameDecoder:
    """Buffers received bytes and yields whole messages; refuses frames over ``max_frame`` early."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def next_message(self) -> Message | None:
        """The next whole message, or None while more bytes are needed."""
        if len(self._buffer) < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack_from(self._buffer)
        if length > self.max_frame:
            raise OversizedMessage(f"frame of {length} bytes exceeds the limit of {self.max_frame}")
        if length == 0:
            raise RemoteProtocolError("empty frame")
        if len(self._buffer) < _LENGTH.size + length:
            return None
        body = bytes(self._buffer[_LENGTH.size : _LENGTH.size + length])
        del self._buffer[: _LENGTH.size + length]
        return decode(body)

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a returned message."""
        return len(self._buffer)

    @property
    def wanted(self) -> int:
        """Bytes still missing from the frame being received (its length prefix at least), within the
        limit: a reader can ask for all of them at once."""
        have = len(self._buffer)
        if have < _LENGTH.size:
            return _LENGTH.size - have
        (length,) = _LENGTH.unpack_from(self._buffer)
        return max(0, min(length, self.max_frame) + _LENGTH.size - have)
