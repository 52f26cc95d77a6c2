"""The sync codec: exact bytes, round trips, and hostile input refused with RemoteProtocolError."""

from __future__ import annotations

import struct

import pytest

from p2pool.p2p.messages import (
    MAX_BY_HASH,
    MAX_FRAME,
    FrameDecoder,
    GetHashes,
    GetPeers,
    GetRecent,
    GetShares,
    GetSharesByHash,
    GetTip,
    Hashes,
    LocalProtocolError,
    OversizedMessage,
    Peers,
    RemoteProtocolError,
    Shares,
    Tip,
    encode,
)

H1, H2 = b"\x01" * 32, b"\x02" * 32


def decode_all(data: bytes) -> list:
    decoder = FrameDecoder()
    decoder.receive_data(data)
    out = []
    while (message := decoder.next_message()) is not None:
        out.append(message)
    return out


def test_exact_bytes_of_get_tip_and_tip():
    assert encode(GetTip()) == b"\x01\x00\x00\x00\x01"
    frame = encode(Tip(H1, 7, 0x0102))
    assert frame == struct.pack("<I", 1 + 32 + 4 + 3) + b"\x02" + H1 + b"\x07\x00\x00\x00" + b"\x02\x01\x02"
    assert encode(Tip(b"\x00" * 32, -1, 0))[-5:] == b"\xff\xff\xff\xff\x00"


@pytest.mark.parametrize("message", [
    GetTip(), GetPeers(), Tip(H2, 123456, 2**200 + 5), Tip(b"\x00" * 32, -1, 0),
    GetShares((H1, H2), b"\x00" * 32, 500), GetHashes((H1,), H2, 20000), Shares((b"abc", b"", b"x" * 1000)),
    GetSharesByHash((H1, H2)), Hashes(()), Hashes((H1,) * 100), GetRecent(10), Peers(("/ip4/1.2.3.4/tcp/9338/p2p/12D3Koo",)),
])
def test_round_trip(message):
    assert decode_all(encode(message)) == [message]


def test_messages_split_anywhere_reassemble():
    stream = encode(GetTip()) + encode(Shares((b"s" * 300,))) + encode(GetPeers())
    decoder = FrameDecoder()
    got = []
    for i in range(len(stream)):
        decoder.receive_data(stream[i : i + 1])
        while (message := decoder.next_message()) is not None:
            got.append(message)
    assert got == [GetTip(), Shares((b"s" * 300,)), GetPeers()]
    assert decoder.pending == 0


def test_a_decoder_says_how_many_bytes_its_frame_still_lacks():
    frame = encode(Shares((b"s" * 300,)))
    decoder = FrameDecoder(max_frame=1000)
    assert decoder.wanted == 4  # the length prefix first
    decoder.receive_data(frame[:2])
    assert decoder.wanted == 2
    decoder.receive_data(frame[2:10])
    assert decoder.wanted == len(frame) - 10
    decoder.receive_data(frame[10:] + encode(GetTip())[:1])
    assert decoder.wanted == 0 and decoder.next_message() == Shares((b"s" * 300,))
    assert decoder.wanted == 3
    decoder = FrameDecoder(max_frame=1000)
    decoder.receive_data(struct.pack("<I", 10**6))
    assert decoder.wanted == 1000  # never past the limit (the frame is refused once it is read)


def test_oversized_frame_refused_from_its_length_alone():
    decoder = FrameDecoder(max_frame=1000)
    decoder.receive_data(struct.pack("<I", 1001))
    with pytest.raises(OversizedMessage):
        decoder.next_message()
    decoder = FrameDecoder()
    decoder.receive_data(struct.pack("<I", MAX_FRAME + 1))
    with pytest.raises(OversizedMessage):
        decoder.next_message()


@pytest.mark.parametrize("body", [
    b"\x63",  # unknown type
    b"\x01\x00",  # trailing byte after GetTip
    b"\x02" + H1 + b"\x01\x00",  # truncated tip
    b"\x02" + H1 + b"\xfe\xff\xff\xff\x00",  # height -2
    b"\x05\xfd" + struct.pack("<H", MAX_BY_HASH + 1),  # too many hashes asked for
    b"\x03\x41",  # locator over the limit
    b"\x09\x01\x02\xff\xfe",  # peer address not ASCII
])
def test_malformed_bodies_are_the_peers_fault(body):
    with pytest.raises(RemoteProtocolError):
        decode_all(struct.pack("<I", len(body)) + body)


def test_empty_frame_refused():
    with pytest.raises(RemoteProtocolError):
        decode_all(b"\x00\x00\x00\x00")


def test_encoding_over_our_limits_is_our_bug():
    with pytest.raises(LocalProtocolError):
        encode(GetSharesByHash((H1,) * (MAX_BY_HASH + 1)))
    with pytest.raises(LocalProtocolError):
        encode(GetShares((b"short",), H1, 1))
    with pytest.raises(LocalProtocolError):
        encode(Tip(H1, 0, 2**400))
