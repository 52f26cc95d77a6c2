"""The host-side SHA-256 pieces: one compression, the midstate and the scan precomputation."""

from __future__ import annotations

import hashlib
import struct

from kernels import sha256
from tests.kernels.header_vectors import MAINNET, random_headers


def padded(message: bytes) -> bytes:
    return message + b"\x80" + bytes((55 - len(message)) % 64) + struct.pack(">Q", 8 * len(message))


def test_compress_matches_hashlib_on_one_and_two_blocks() -> None:
    for message in (b"", b"abc", bytes(range(55)), bytes(range(100))):
        data = padded(message)
        state = sha256.IV
        for i in range(0, len(data), 64):
            state = sha256.compress(state, data[i : i + 64])
        assert struct.pack(">8I", *state) == hashlib.sha256(message).digest()


def test_midstate_is_the_state_after_the_first_64_bytes() -> None:
    header = MAINNET[4].header
    mid = sha256.midstate(header[:76])
    tail = padded(header)[64:]
    assert struct.pack(">8I", *sha256.compress(mid, tail)) == hashlib.sha256(header).digest()


def second_block_history(header: bytes, rounds: int) -> tuple[list[int], list[int], list[int]]:
    """The A/E histories and schedule of the header's second block, computed without shortcuts."""
    w = sha256.schedule(struct.unpack(">16I", padded(header)[64:128]))
    mid = sha256.midstate(header[:76])
    a, e = [mid[3], mid[2], mid[1], mid[0]], [mid[7], mid[6], mid[5], mid[4]]
    for t in range(rounds):
        sha256._round(a, e, t, (sha256.K[t] + w[t]) & sha256.MASK)
    return a, e, w


def test_precompute_matches_the_unshortened_computation() -> None:
    for header in [v.header for v in MAINNET] + random_headers(5, seed=11):
        pre = sha256.precompute(header[:76])
        assert len(pre) == sha256.PRE_SIZE
        a, e, w = second_block_history(header, 4)
        w3 = w[3]
        assert list(pre[sha256.PRE_A : sha256.PRE_A + 7]) == a[:7]
        assert list(pre[sha256.PRE_E : sha256.PRE_E + 7]) == e[:7]
        assert (pre[sha256.PRE_A7] + w3) & sha256.MASK == a[7]
        assert (pre[sha256.PRE_E7] + w3) & sha256.MASK == e[7]
        assert pre[sha256.PRE_W16] == w[16] and pre[sha256.PRE_W17] == w[17]
        assert (pre[sha256.PRE_W18] + sha256.small_sigma0(w3)) & sha256.MASK == w[18]
        assert (pre[sha256.PRE_W19] + w3) & sha256.MASK == w[19]


def test_second_hash_round_zero_bases() -> None:
    first = hashlib.sha256(MAINNET[0].header).digest()
    w0 = struct.unpack(">I", first[:4])[0]
    a, e = (
        [sha256.IV[3], sha256.IV[2], sha256.IV[1], sha256.IV[0]],
        [sha256.IV[7], sha256.IV[6], sha256.IV[5], sha256.IV[4]],
    )
    sha256._round(a, e, 0, (sha256.K[0] + w0) & sha256.MASK)
    assert a[4] == (sha256.H2_A4_BASE + w0) & sha256.MASK
    assert e[4] == (sha256.H2_E4_BASE + w0) & sha256.MASK
