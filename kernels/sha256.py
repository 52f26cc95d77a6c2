"""SHA-256 on the host in plain Python: constants, one compression, and the nonce-scan precomputation.

The kernels keep the working state as two histories, ``A`` and ``E``: round ``t`` (0-based) reads
``a, b, c, d = A[t+3], A[t+2], A[t+1], A[t]`` and ``e, f, g, h = E[t+3], E[t+2], E[t+1], E[t]`` and
writes ``A[t+4]`` and ``E[t+4]``, so no register shuffling is needed and rows double as SIMD lanes.
"""

from __future__ import annotations

import struct

MASK = 0xFFFFFFFF

K: tuple[int, ...] = (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
)  # fmt: skip

IV: tuple[int, ...] = (
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
)  # fmt: skip

# Layout of the per-header precomputation handed to the scan kernels (``precompute``).
PRE_MID = 0  # 8 words: SHA-256 state after the header's first 64 bytes
PRE_TAIL = 8  # 3 words: message words W0..W2 of the second block (merkle tail, time, bits)
PRE_A = 11  # 7 words: A[0..6], the history after rounds 0..2 of the second block
PRE_E = 18  # 7 words: E[0..6]
PRE_A7 = 25  # A[7] = pre[PRE_A7] + W3 (round 3, where the nonce word W3 first enters)
PRE_E7 = 26  # E[7] = pre[PRE_E7] + W3
PRE_W16 = 27  # W16 and W17 do not depend on the nonce
PRE_W17 = 28
PRE_W18 = 29  # W18 = pre[PRE_W18] + s0(W3)
PRE_W19 = 30  # W19 = pre[PRE_W19] + W3
PRE_H2_A4 = 31  # second hash, round 0: A[4] = pre[PRE_H2_A4] + W0, E[4] = pre[PRE_H2_E4] + W0
PRE_H2_E4 = 32
PRE_SIZE = 33


def rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & MASK


def big_sigma0(x: int) -> int:
    return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22)


def big_sigma1(x: int) -> int:
    return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25)


def small_sigma0(x: int) -> int:
    return rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3)


def small_sigma1(x: int) -> int:
    return rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10)


def schedule(block_words: list[int] | tuple[int, ...]) -> list[int]:
    """The 64-word message schedule of one block."""
    w = list(block_words)
    for t in range(16, 64):
        w.append((small_sigma1(w[t - 2]) + w[t - 7] + small_sigma0(w[t - 15]) + w[t - 16]) & MASK)
    return w


def _round(a: list[int], e: list[int], t: int, kw: int) -> None:
    """Round ``t`` on the A/E histories; ``kw`` is K[t] + W[t]."""
    e_, f, g, h = e[t + 3], e[t + 2], e[t + 1], e[t]
    a_, b, c, d = a[t + 3], a[t + 2], a[t + 1], a[t]
    t1 = (h + big_sigma1(e_) + (g ^ (e_ & (f ^ g))) + kw) & MASK
    t2 = (big_sigma0(a_) + ((a_ & b) | (c & (a_ | b)))) & MASK
    e.append((d + t1) & MASK)
    a.append((t1 + t2) & MASK)


def _history(state: tuple[int, ...] | list[int]) -> tuple[list[int], list[int]]:
    return [state[3], state[2], state[1], state[0]], [state[7], state[6], state[5], state[4]]


def compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    """One SHA-256 compression of a 64-byte block into ``state``."""
    w = schedule(struct.unpack(">16I", block))
    a, e = _history(state)
    for t in range(64):
        _round(a, e, t, (K[t] + w[t]) & MASK)
    final = (a[67], a[66], a[65], a[64], e[67], e[66], e[65], e[64])
    return tuple((s + x) & MASK for s, x in zip(state, final, strict=True))


def midstate(header76: bytes) -> tuple[int, ...]:
    """The SHA-256 state after the first 64 bytes of a header: the same for every nonce."""
    return compress(IV, header76[:64])


def _second_hash_round0() -> tuple[int, int]:
    """Bases of A[4] and E[4] of the second hash, whose round 0 only adds W0 to constants."""
    a, e = _history(IV)
    _round(a, e, 0, K[0])
    return a[4], e[4]


H2_A4_BASE, H2_E4_BASE = _second_hash_round0()


def precompute(header76: bytes) -> tuple[int, ...]:
    """Everything about the nonce scan of ``header76`` that does not depend on the nonce (``PRE_*``)."""
    if len(header76) != 76:
        raise ValueError(f"a header without its nonce is 76 bytes, got {len(header76)}")
    mid = midstate(header76)
    w0, w1, w2 = struct.unpack(">3I", header76[64:76])
    w = [w0, w1, w2, 0, 0x80000000] + [0] * 10 + [640]
    a, e = _history(mid)
    for t in range(3):
        _round(a, e, t, (K[t] + w[t]) & MASK)
    a3, e3 = list(a), list(e)
    _round(a3, e3, 3, K[3])  # with W3 = 0 the round's results are exactly the bases
    w16 = (small_sigma1(w[14]) + w[9] + small_sigma0(w[1]) + w[0]) & MASK
    w17 = (small_sigma1(w[15]) + w[10] + small_sigma0(w[2]) + w[1]) & MASK
    w18 = (small_sigma1(w16) + w[11] + w[2]) & MASK
    w19 = (small_sigma1(w17) + w[12] + small_sigma0(w[4])) & MASK
    return mid + (w0, w1, w2) + tuple(a) + tuple(e) + (a3[7], e3[7], w16, w17, w18, w19, H2_A4_BASE, H2_E4_BASE)
