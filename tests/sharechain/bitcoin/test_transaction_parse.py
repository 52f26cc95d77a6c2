"""The fast ways a share's parts are read (a one-input transaction straight off its bytes, its outputs by
a layout seen before, objects built without ``__init__``) give what the general reader gives, and refuse
what it refuses with the same words."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharechain.bitcoin import transaction
from sharechain.bitcoin.frozen import builder
from sharechain.bitcoin.header import BlockHeader
from sharechain.bitcoin.serialize import ByteReader, ParseError
from sharechain.bitcoin.transaction import NULL_HASH, Transaction, TxIn, TxOut
from sharechain.share import Share, ShareInfo


def general(raw: bytes) -> Transaction | str:
    """What the general reader makes of ``raw``: the transaction, or its ParseError's words."""
    try:
        reader = ByteReader(raw)
        tx = Transaction.read(reader)
        reader.expect_end()
    except ParseError as exc:
        return f"ParseError: {exc}"
    return tx


def parsed(raw: bytes) -> Transaction | str:
    try:
        return Transaction.parse(raw)
    except ParseError as exc:
        return f"ParseError: {exc}"


scripts = st.one_of(st.binary(min_size=0, max_size=40), st.binary(min_size=250, max_size=260))
outputs = st.lists(st.tuples(st.integers(0, 2**64 - 1), scripts), max_size=12)


def coinbase(outs: list[tuple[int, bytes]], script_sig: bytes = b"\x03abc", locktime: int = 0,
             witness: tuple[bytes, ...] = ()) -> Transaction:
    return Transaction(2, (TxIn(NULL_HASH, 0xFFFFFFFF, script_sig, 0xFFFFFFFE, witness),),
                       tuple(TxOut(v, s) for v, s in outs), locktime)


@settings(max_examples=300, deadline=None)
@given(outs=outputs, script_sig=st.binary(max_size=300), locktime=st.integers(0, 2**32 - 1),
       witness=st.sampled_from([(), (b"\x00" * 32,)]), inputs=st.integers(1, 3))
def test_a_transaction_parses_as_the_general_reader_reads_it_first_time_and_by_its_layout(
        outs: list[tuple[int, bytes]], script_sig: bytes, locktime: int, witness: tuple[bytes, ...],
        inputs: int) -> None:
    tx = coinbase(outs, script_sig, locktime, witness)
    tx = dataclasses.replace(tx, inputs=tx.inputs * inputs)
    raw = tx.serialize()
    for _ in range(2):  # the second time, most of them by the layout the first one taught
        fast, slow = parsed(raw), general(raw)
        assert fast == slow == tx
        assert isinstance(fast, Transaction) and fast.txid() == tx.txid()


@settings(max_examples=400, deadline=None)
@given(outs=st.lists(st.tuples(st.integers(0, 2**64 - 1), st.binary(min_size=0, max_size=30)), min_size=1,
                     max_size=8),
       at=st.integers(0, 10_000), byte=st.integers(0, 255), cut=st.integers(0, 3))
def test_a_damaged_transaction_on_a_known_layout_is_read_or_refused_as_the_general_reader_does(
        outs: list[tuple[int, bytes]], at: int, byte: int, cut: int) -> None:
    raw = coinbase(outs).serialize()
    assert parsed(raw) == general(raw)  # its layout learnt
    damaged = bytearray(raw)
    damaged[at % len(raw)] = byte
    changed = bytes(damaged[: len(damaged) - cut])
    assert parsed(changed) == general(changed)


def test_a_script_length_that_differs_from_the_layout_falls_back_to_the_general_reader() -> None:
    first = coinbase([(1, b"\x51" * 22), (2, b"\x52" * 25)]).serialize()
    # The same count and size, lengths swapped: the layout of the first does not fit the second.
    second = coinbase([(1, b"\x51" * 25), (2, b"\x52" * 22)]).serialize()
    assert len(first) == len(second)
    assert parsed(first) == general(first)
    outputs_at = 42 + 4 + 4  # the fixed part, the scriptSig, the sequence
    assert transaction._outputs_by_layout(first, outputs_at, len(first) - 4) is not None  # learnt
    assert transaction._outputs_by_layout(second, outputs_at, len(second) - 4) is None
    fast = parsed(second)
    assert fast == general(second)
    assert isinstance(fast, Transaction) and [len(o.script_pubkey) for o in fast.outputs] == [25, 22]


def test_built_objects_equal_constructed_ones_and_stay_frozen() -> None:
    header = builder(BlockHeader)(1, b"p" * 32, b"m" * 32, 2, 3, 4)
    assert header == BlockHeader(1, b"p" * 32, b"m" * 32, 2, 3, 4)
    assert hash(header) == hash(BlockHeader(1, b"p" * 32, b"m" * 32, 2, 3, 4))
    with pytest.raises(dataclasses.FrozenInstanceError):
        header.nonce = 5  # type: ignore[misc]
    info = builder(ShareInfo)(b"p" * 32, 1, 2, 3, b"s", ())
    assert info == ShareInfo(b"p" * 32, 1, 2, 3, b"s")
    with pytest.raises(TypeError, match="not its slots"):
        builder(Share, "header", "info")
    with pytest.raises(TypeError, match="not a dataclass"):
        builder(Share)


def reference_varbytes(data: bytes, pos: int, limit: int) -> tuple[bytes | str, int]:
    """The checked path of ``read_varbytes``: the bytes (or the error's words) and where the reader is."""
    reader = ByteReader(data, pos)
    try:
        return reader.read(reader.read_count(limit)), reader.pos
    except ParseError as exc:
        return f"ParseError: {exc}", reader.pos


@settings(max_examples=400, deadline=None)
@given(prefix=st.sampled_from([b"", b"\x05", b"\xfc", b"\xfd", b"\xfd\xfc\x00", b"\xfd\xfd\x00", b"\xfd\x00\x01",
                               b"\xfd\xff\xff", b"\xfe\x00\x00\x01\x00", b"\xff"]),
       body=st.binary(max_size=300), pos=st.integers(0, 2), limit=st.sampled_from([64, 252, 253, 300, 4_000_000]))
def test_length_prefixed_bytes_read_inline_as_the_checked_path_reads_them(prefix: bytes, body: bytes, pos: int,
                                                                          limit: int) -> None:
    data = b"\x00" * pos + prefix + body
    reader = ByteReader(data, pos)
    try:
        got: tuple[bytes | str, int] = (reader.read_varbytes(limit), reader.pos)
    except ParseError as exc:
        got = (f"ParseError: {exc}", reader.pos)
    assert got == reference_varbytes(data, pos, limit)


def test_three_byte_lengths_are_read_inline() -> None:
    body = bytes(range(256)) * 3
    data = b"\xfd" + len(body).to_bytes(2, "little") + body + b"tail"
    reader = ByteReader(data)
    assert reader.read_varbytes() == body and reader.pos == 3 + len(body)
    with pytest.raises(ParseError, match="non-canonical"):
        ByteReader(b"\xfd\x10\x00" + b"x" * 16).read_varbytes()
    with pytest.raises(ParseError, match="exceeds the limit"):
        ByteReader(data).read_varbytes(len(body) - 1)
