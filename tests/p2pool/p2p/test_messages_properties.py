"""Property-based: every P2P message decoder, fed valid, mutated or random frames, ends defined."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from p2pool.p2p import messages as m
from tests.fixtures.fuzz_p2p import check_body, check_frames, one_input

FAST = settings(max_examples=200, deadline=None)
hashes = st.binary(min_size=32, max_size=32)
hash_lists = st.lists(hashes, max_size=6).map(tuple)
u32 = st.integers(0, 2**32 - 1)
addr = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60)
valid = st.one_of(
    st.just(m.GetTip()), st.just(m.GetPeers()),
    st.builds(m.Tip, hashes, st.integers(-1, 2**31 - 1), st.integers(0, 2**320 - 1)),
    st.builds(m.GetShares, hash_lists, hashes, u32), st.builds(m.GetHashes, hash_lists, hashes, u32),
    st.builds(m.Shares, st.lists(st.binary(max_size=300), max_size=4).map(tuple)),
    st.builds(m.GetSharesByHash, hash_lists), st.builds(m.Hashes, hash_lists),
    st.builds(m.GetRecent, st.integers(0, m.MAX_RECENT_DEPTH)), st.builds(m.Peers, st.lists(addr, max_size=4).map(tuple)),
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """Valid frames, then bytes flipped, inserted, cut or the length rewritten."""
    data = bytearray(b"".join(m.encode(x) for x in draw(st.lists(valid, min_size=1, max_size=4))))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "cut", "length"]))
        if action == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        else:
            data[0:4] = draw(u32).to_bytes(4, "little")
    return bytes(data)


@FAST
@given(st.lists(valid, max_size=5))
def test_valid_messages_round_trip(messages: list[m.Message]) -> None:
    stream = b"".join(m.encode(x) for x in messages)
    assert check_frames([stream]) == messages


@FAST
@given(mutated(), st.integers(1, 64), st.sampled_from([m.MAX_FRAME, 64, 300]))
def test_mutated_frames_decode_or_are_refused(data: bytes, step: int, max_frame: int) -> None:
    decoded = check_frames([data[i : i + step] for i in range(0, len(data), step)], max_frame)
    assert decoded == check_frames([data], max_frame)  # how the bytes arrive changes nothing


@FAST
@given(st.integers(0, 12), st.binary(max_size=200))
def test_any_body_of_any_type_decodes_or_is_refused(kind: int, payload: bytes) -> None:
    check_body(bytes([kind]) + payload)


@FAST
@given(st.binary(max_size=3_000))
def test_random_bytes(data: bytes) -> None:
    one_input(data)
