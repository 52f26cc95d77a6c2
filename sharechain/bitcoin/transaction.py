"""Transactions with BIP144 witness serialization."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from itertools import repeat
from typing import NamedTuple

from sharechain.bitcoin.frozen import builder
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.serialize import ByteReader, ParseError, ser_varbytes, ser_varint

NULL_HASH = b"\x00" * 32
_VALUE_AND_LENGTH = struct.Struct("<QB")
# A transaction with one input and a scriptSig under 253 bytes (every share's coinbase), up to that script:
# version, input count, the input's previous txid and index, the script's length.
_ONE_INPUT_HEAD = struct.Struct("<iB32sIB")
COINBASE_PREV_INDEX = 0xFFFFFFFF
_MAX_ITEMS = 100_000


@dataclass(frozen=True, slots=True)
class TxIn:
    prev_txid: bytes
    prev_index: int
    script_sig: bytes
    sequence: int = 0xFFFFFFFF
    witness: tuple[bytes, ...] = ()

    def is_coinbase_input(self) -> bool:
        return self.prev_txid == NULL_HASH and self.prev_index == COINBASE_PREV_INDEX


class TxOut(NamedTuple):
    """An output (a named tuple: a share's coinbase has one per miner paid, and parsing makes them all)."""

    value: int
    script_pubkey: bytes

    def serialize(self) -> bytes:
        return self.value.to_bytes(8, "little") + ser_varbytes(self.script_pubkey)


@dataclass(frozen=True, slots=True)
class Transaction:
    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int = 0
    _txid: list[bytes] = field(default_factory=list, init=False, compare=False, repr=False)

    @property
    def has_witness(self) -> bool:
        return any(txin.witness for txin in self.inputs)

    def is_coinbase(self) -> bool:
        return len(self.inputs) == 1 and self.inputs[0].is_coinbase_input()

    def serialize(self, with_witness: bool = True) -> bytes:
        witness = with_witness and self.has_witness
        parts = [self.version.to_bytes(4, "little", signed=True)]
        if witness:
            parts.append(b"\x00\x01")
        parts.append(ser_varint(len(self.inputs)))
        for txin in self.inputs:
            parts += [txin.prev_txid, txin.prev_index.to_bytes(4, "little"), ser_varbytes(txin.script_sig),
                      txin.sequence.to_bytes(4, "little")]
        parts.append(ser_varint(len(self.outputs)))
        parts += [txout.serialize() for txout in self.outputs]
        if witness:
            for txin in self.inputs:
                parts.append(ser_varint(len(txin.witness)))
                parts += [ser_varbytes(item) for item in txin.witness]
        parts.append(self.locktime.to_bytes(4, "little"))
        return b"".join(parts)

    def txid(self) -> bytes:
        """Hash of the serialization without witness, internal byte order (cached)."""
        if not self._txid:
            self._txid.append(sha256d(self.serialize(with_witness=False)))
        return self._txid[0]

    def wtxid(self) -> bytes:
        return sha256d(self.serialize(with_witness=True))

    def total_out(self) -> int:
        return sum(txout.value for txout in self.outputs)

    @classmethod
    def parse(cls, raw: bytes) -> Transaction:
        tx = _parse_one_input(raw)  # the common case (a coinbase), read straight off the bytes
        if tx is not None:
            return tx
        reader = ByteReader(raw)
        tx = cls.read(reader)
        reader.expect_end()
        if not tx.has_witness:  # the bytes are its serialization without witness (encodings are canonical)
            tx._txid.append(sha256d(raw))
        return tx

    @classmethod
    def read(cls, reader: ByteReader) -> Transaction:
        version = reader.read_i32()
        n_in = reader.read_count(_MAX_ITEMS)
        segwit = False
        if n_in == 0:
            if reader.read_u8() != 1:
                raise ParseError("bad segwit flag")
            segwit = True
            n_in = reader.read_count(_MAX_ITEMS)
            if n_in == 0:
                raise ParseError("transaction without inputs")
        raw_inputs = []
        for _ in range(n_in):
            prev_txid = reader.read(32)
            prev_index = reader.read_u32()
            script_sig = reader.read_varbytes()
            sequence = reader.read_u32()
            raw_inputs.append((prev_txid, prev_index, script_sig, sequence))
        outputs = _read_outputs(reader)
        witnesses: list[tuple[bytes, ...]] = [()] * n_in
        if segwit:
            witnesses = [tuple(reader.read_varbytes() for _ in range(reader.read_count(_MAX_ITEMS)))
                         for _ in range(n_in)]
            if not any(witnesses):
                raise ParseError("segwit flag set but every witness is empty")
        locktime = reader.read_u32()
        inputs = tuple([_build_txin(p, i, s, q, w) for (p, i, s, q), w in zip(raw_inputs, witnesses, strict=True)])
        return _build_transaction(version, inputs, tuple(outputs), locktime, [])


_build_txin = builder(TxIn)
_build_transaction = builder(Transaction)


def _parse_one_input(raw: bytes) -> Transaction | None:
    """:meth:`Transaction.parse` of a transaction without witness that has one input and a scriptSig
    under 253 bytes, or None for any other (or malformed) bytes, which the general reader then reads
    (and refuses as it always has): equal to what it returns."""
    size = len(raw)
    if size < _ONE_INPUT_HEAD.size or raw[4] != 1:
        return None
    version, _, prev_txid, prev_index, script_size = _ONE_INPUT_HEAD.unpack_from(raw)
    script_end = _ONE_INPUT_HEAD.size + script_size
    if script_size >= 0xFD or script_end + 4 > size:
        return None
    outputs = _outputs_by_layout(raw, script_end + 4, size - 4)
    if outputs is None:
        reader = ByteReader(raw, script_end + 4)
        try:
            read = _read_outputs(reader)
        except ParseError:
            return None
        if reader.pos + 4 != size:
            return None
        _learn_layout(raw, script_end + 4, read)
        outputs = tuple(read)
    txin = _build_txin(prev_txid, prev_index, raw[_ONE_INPUT_HEAD.size : script_end],
                       int.from_bytes(raw[script_end : script_end + 4], "little"), ())
    return _build_transaction(version, (txin,), outputs, int.from_bytes(raw[size - 4 :], "little"), [sha256d(raw)])


# Output lists by layout: (output count, their size in bytes) -> a struct reading every output at once,
# and each output's script length. A pool's coinbases repeat a few layouts (one output per miner, a
# few script types), so most are read in one call, not one output at a time.
_LAYOUTS: dict[tuple[int, int], tuple[struct.Struct, tuple[int, ...]]] = {}
_MAX_LAYOUTS = 1024
_MAX_LAYOUT_OUTPUTS = 1000


def _outputs_by_layout(raw: bytes, start: int, end: int) -> tuple[TxOut, ...] | None:
    """The outputs from ``start`` (their count) to ``end``, when they follow a layout seen before: every
    script length byte read where the layout puts it equals the layout's, so each output starts where
    a read of one output at a time would start it, and the outputs are the same. None otherwise."""
    count = raw[start]
    layout = _LAYOUTS.get((count, end - start - 1)) if count < 0xFD else None
    if layout is None:
        return None
    reader, lengths = layout
    values = reader.unpack_from(raw, start + 1)  # (fits: the layout's size is end - start - 1)
    if values[1::3] != lengths:
        return None
    return tuple(map(_new_tuple, repeat(TxOut), zip(values[0::3], values[2::3], strict=True)))


def _learn_layout(raw: bytes, start: int, outputs: list[TxOut]) -> None:
    """Remember the layout of ``outputs``, read from ``start`` (their count) to the end but 4 bytes."""
    lengths = tuple([len(txout.script_pubkey) for txout in outputs])
    if raw[start] >= 0xFD or len(lengths) > _MAX_LAYOUT_OUTPUTS or (lengths and max(lengths) >= 0xFD):
        return
    if len(_LAYOUTS) >= _MAX_LAYOUTS:
        _LAYOUTS.clear()
    _LAYOUTS[(len(lengths), len(raw) - 4 - start - 1)] = (struct.Struct("<" + "".join(f"QB{n}s" for n in lengths)),
                                                           lengths)


_new_tuple = tuple.__new__


def _read_outputs(reader: ByteReader) -> list[TxOut]:
    """The outputs, read straight off the buffer (a share's coinbase has hundreds on a big pool: this
    is the hot part of parsing a share); scripts of 253 bytes or more take the reader's checked path."""
    count = reader.read_count(_MAX_ITEMS)
    data, pos, size = reader.data, reader.pos, len(reader.data)
    outputs = []
    unpack, make = _VALUE_AND_LENGTH.unpack_from, tuple.__new__  # (a TxOut is a plain tuple underneath)
    for _ in range(count):
        if pos + 9 > size:
            raise ParseError(f"truncated output at offset {pos}")
        value, length = unpack(data, pos)
        if length < 0xFD:
            pos += 9
        else:
            reader.pos = pos + 8
            length = reader.read_count(4_000_000)
            pos = reader.pos
        end = pos + length
        if end > size:
            raise ParseError(f"truncated output script at offset {pos}")
        outputs.append(make(TxOut, (value, data[pos:end])))
        pos = end
    reader.pos = pos
    return outputs
