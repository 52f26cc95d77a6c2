"""The share: a Bitcoin block header with the data that ties it to the sharechain.

Wire format (version 1), all integers little-endian::

    u8        format version (1)
    80 bytes  block header (its hash is the share's hash and proof of work)
    bytes     coinbase transaction, serialized without witness, CompactSize length prefix
    list      merkle branch from the coinbase to the header's merkle root (CompactSize count, 32 bytes each)
    ShareInfo what the share claims on the sharechain (see :class:`ShareInfo`)

The coinbase carries ``OP_RETURN <network id (8) || sha256d(ShareInfo) (32)>``, so the share
information is bound to the proof of work; checking a share never needs the block's other
transactions.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sharechain.bitcoin.frozen import builder
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.header import HEADER_SIZE, BlockHeader
from sharechain.bitcoin.script import op_return
from sharechain.bitcoin.serialize import ByteReader, ParseError, ser_varbytes, ser_varint
from sharechain.bitcoin.transaction import NULL_HASH, Transaction

SHARE_FORMAT_VERSION = 1
MAX_MERKLE_BRANCH = 32
MAX_COINBASE_SIZE = 100_000
MAX_PAYOUT_SCRIPT_SIZE = 64
MAX_UNCLES_ON_WIRE = 16
MAX_SHARE_SIZE = 1 + HEADER_SIZE + 5 + MAX_COINBASE_SIZE + 1 + 32 * MAX_MERKLE_BRANCH + 200 + 32 * MAX_UNCLES_ON_WIRE
# A coinbase scriptSig is 2 to 100 bytes (Bitcoin's own rule, checked on every share).
MIN_SCRIPT_SIG_SIZE = 2
MAX_SCRIPT_SIG_SIZE = 100
# The share format and wire limits are consensus too: a share one node reads and another refuses
# splits the network, so they are part of every network's id (``sharechain/params.py``).
SHARE_FORMAT_RULES: Mapping[str, int] = MappingProxyType({
    "format_version": SHARE_FORMAT_VERSION,
    "max_merkle_branch": MAX_MERKLE_BRANCH,
    "max_coinbase_size": MAX_COINBASE_SIZE,
    "max_payout_script_size": MAX_PAYOUT_SCRIPT_SIZE,
    "max_uncles_on_wire": MAX_UNCLES_ON_WIRE,
    "max_share_size": MAX_SHARE_SIZE,
    "min_script_sig_size": MIN_SCRIPT_SIG_SIZE,
    "max_script_sig_size": MAX_SCRIPT_SIG_SIZE,
})
_INFO_FIXED = struct.Struct("<32sIII")


@dataclass(frozen=True, slots=True)
class ShareInfo:
    """The sharechain fields a share commits to in its coinbase."""

    prev_hash: bytes  # NULL_HASH for a chain's first share
    height: int
    timestamp: int
    share_bits: int  # compact encoding of the share target
    payout_script: bytes
    uncles: tuple[bytes, ...] = ()

    def serialize(self) -> bytes:
        return (_INFO_FIXED.pack(self.prev_hash, self.height, self.timestamp, self.share_bits)
                + ser_varbytes(self.payout_script) + ser_varint(len(self.uncles)) + b"".join(self.uncles))

    def hash(self) -> bytes:
        return sha256d(self.serialize())

    @classmethod
    def read(cls, reader: ByteReader) -> ShareInfo:
        prev_hash, height, timestamp, share_bits = _INFO_FIXED.unpack(reader.read(_INFO_FIXED.size))
        payout_script = reader.read_varbytes(MAX_PAYOUT_SCRIPT_SIZE)
        count = reader.read_count(MAX_UNCLES_ON_WIRE)
        uncles = tuple([reader.read(32) for _ in range(count)]) if count else ()
        return _build_info(prev_hash, height, timestamp, share_bits, payout_script, uncles)

    @property
    def is_first(self) -> bool:
        return self.prev_hash == NULL_HASH


_build_info = builder(ShareInfo)


def share_commitment_script(network_id: bytes, info: ShareInfo, info_bytes: bytes | None = None) -> bytes:
    """The coinbase output script that commits to ``info`` on the network ``network_id``; ``info_bytes``:
    ``info`` serialized, where the caller has them already (:meth:`Share.info_bytes`)."""
    return _commitment_prefix(network_id) + sha256d(info.serialize() if info_bytes is None else info_bytes)


@functools.lru_cache(maxsize=64)
def _commitment_prefix(network_id: bytes) -> bytes:
    """The commitment script but its last 32 bytes (the push's length is the same whatever the hash)."""
    return op_return(network_id + NULL_HASH)[:-32]


class Share:
    """A share: its header, coinbase, merkle branch and share information, its hash and its bytes.

    Immutable. A share decoded by :meth:`parse_lazily` (bytes that :meth:`parse` accepted elsewhere: a
    join's checking process) decodes its coinbase and merkle branch when they are first read: most
    shares of a join are never asked for them."""

    __slots__ = ("_coinbase", "_merkle_branch", "hash", "header", "info", "raw")
    header: BlockHeader
    info: ShareInfo
    hash: bytes
    raw: bytes
    _coinbase: Transaction | None
    _merkle_branch: tuple[bytes, ...] | None

    def __init__(self, header: BlockHeader, coinbase: Transaction | None, merkle_branch: tuple[bytes, ...] | None,
                 info: ShareInfo, hash: bytes = b"", raw: bytes = b"") -> None:
        if (coinbase is None or merkle_branch is None) and not raw:
            raise ValueError("a share without its coinbase and merkle branch needs its bytes")
        put = object.__setattr__
        put(self, "header", header)
        put(self, "_coinbase", coinbase)
        put(self, "_merkle_branch", merkle_branch)
        put(self, "info", info)
        put(self, "hash", hash)
        put(self, "raw", raw)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a share is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a share is immutable")

    @property
    def coinbase(self) -> Transaction:
        if self._coinbase is None:
            self._decode_body()
        assert self._coinbase is not None
        return self._coinbase

    @property
    def merkle_branch(self) -> tuple[bytes, ...]:
        if self._merkle_branch is None:
            self._decode_body()
        assert self._merkle_branch is not None
        return self._merkle_branch

    def _decode_body(self) -> None:
        reader = ByteReader(self.raw)
        reader.pos = 1 + HEADER_SIZE
        coinbase, branch = _read_body(reader)
        object.__setattr__(self, "_coinbase", coinbase)
        object.__setattr__(self, "_merkle_branch", branch)

    def info_bytes(self) -> bytes:
        """The share information serialized: the last bytes of the share's own encoding (each of its two
        sizes is under 253, so its one encoding has a one-byte length)."""
        if not self.raw:
            return self.info.serialize()
        info = self.info
        return self.raw[-(_INFO_FIXED.size + 2 + len(info.payout_script) + 32 * len(info.uncles)) :]

    def _fields(self) -> tuple[object, ...]:
        return (self.header, self.coinbase, self.merkle_branch, self.info)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Share):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (f"Share(header={self.header!r}, coinbase={self.coinbase!r}, merkle_branch={self.merkle_branch!r}, "
                f"info={self.info!r}, hash={self.hash!r})")

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Share, (self.header, self.coinbase, self.merkle_branch, self.info, self.hash, self.raw))

    @classmethod
    def create(cls, header: BlockHeader, coinbase: Transaction, branch: tuple[bytes, ...], info: ShareInfo) -> Share:
        share = cls(header, coinbase, branch, info)
        raw = share._encode()
        return cls(header, coinbase, branch, info, header.hash(), raw)

    def _encode(self) -> bytes:
        return b"".join((
            bytes((SHARE_FORMAT_VERSION,)),
            self.header.serialize(),
            ser_varbytes(self.coinbase.serialize(with_witness=False)),
            ser_varint(len(self.merkle_branch)),
            *self.merkle_branch,
            self.info.serialize(),
        ))

    def serialize(self) -> bytes:
        return self.raw or self._encode()

    @classmethod
    def parse(cls, raw: bytes) -> Share:
        """Decode a share; :class:`ParseError` says what is malformed."""
        reader, header_raw = _start(raw)
        coinbase, branch = _read_body(reader)
        info = ShareInfo.read(reader)
        reader.expect_end()
        return _build_share(BlockHeader.parse(header_raw), coinbase, branch, info, sha256d(header_raw), raw)

    @classmethod
    def parse_lazily(cls, raw: bytes) -> Share:
        """Decode the header and the share information now, the coinbase and the merkle branch when first
        read. For bytes :meth:`parse` accepted (elsewhere: a join's checking process): the body is only
        skipped here, so a malformed one would raise :class:`ParseError` when read."""
        reader, header_raw = _start(raw)
        coinbase_size = reader.read_count(MAX_COINBASE_SIZE)  # (read before ``pos`` is: the read moves it)
        reader.pos += coinbase_size
        branch_size = 32 * reader.read_count(MAX_MERKLE_BRANCH)
        reader.pos += branch_size
        if reader.pos > len(raw):
            raise ParseError("truncated share")
        info = ShareInfo.read(reader)
        reader.expect_end()
        return cls(BlockHeader.parse(header_raw), None, None, info, sha256d(header_raw), raw)


# (Share.parse's: every field read and checked; __init__'s check is for the other constructions.)
_build_share = builder(Share, "header", "_coinbase", "_merkle_branch", "info", "hash", "raw")


def _start(raw: bytes) -> tuple[ByteReader, bytes]:
    """A reader past the share's format version and header, and the header's bytes."""
    if len(raw) > MAX_SHARE_SIZE:
        raise ParseError(f"share of {len(raw)} bytes exceeds {MAX_SHARE_SIZE}")
    reader = ByteReader(raw)
    version = reader.read_u8()
    if version != SHARE_FORMAT_VERSION:
        raise ParseError(f"unknown share format version {version}")
    return reader, reader.read(HEADER_SIZE)


def _read_body(reader: ByteReader) -> tuple[Transaction, tuple[bytes, ...]]:
    coinbase = Transaction.parse(reader.read_varbytes(MAX_COINBASE_SIZE))
    if coinbase.has_witness:
        # The same share (same hash) in a second, longer encoding: refused, it would be stored and relayed.
        raise ParseError("a share's coinbase is serialized without witness")
    count = reader.read_count(MAX_MERKLE_BRANCH)
    return coinbase, tuple([reader.read(32) for _ in range(count)]) if count else ()
