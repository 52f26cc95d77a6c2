"""Numba SHA-256d kernels: the nonce scan and the batch header check, on lanes of ``LANES`` hashes.

Every inner loop runs over the lanes of 2-D ``uint32`` arrays (row = round or message word, column =
lane) with nothing but 32-bit arithmetic, so LLVM turns each into a few AVX2/SSE vector instructions;
the explicit ``U(...)`` truncations keep Numba's integer promotion from widening them to 64 bits,
which would halve the lanes per vector. The state is kept as the A/E histories of ``kernels.sha256``.
All njit code lives in this one file because Numba's cache only notices changes to the file of the
function it compiled.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels import sha256

U = np.uint32
LANES = 32  # nonces per step: 4 AVX2 vectors; 16 is ~7% slower, 8 does not vectorise
_K = np.array(sha256.K, dtype=np.uint32)
_IV = np.array(sha256.IV, dtype=np.uint32)
_PRE_A, _PRE_E, _PRE_TAIL, _PRE_MID = sha256.PRE_A, sha256.PRE_E, sha256.PRE_TAIL, sha256.PRE_MID
_PRE_A7, _PRE_E7, _PRE_W16, _PRE_W17 = sha256.PRE_A7, sha256.PRE_E7, sha256.PRE_W16, sha256.PRE_W17
_PRE_W18, _PRE_W19, _PRE_H2_A4, _PRE_H2_E4 = sha256.PRE_W18, sha256.PRE_W19, sha256.PRE_H2_A4, sha256.PRE_H2_E4


@njit(inline="always")
def _rotr(x, n):  # type: ignore[no-untyped-def]
    return U((x >> U(n)) | (x << U(32 - n)))


@njit(inline="always")
def _bswap(x):  # type: ignore[no-untyped-def]
    return U(((x & U(0xFF)) << U(24)) | ((x & U(0xFF00)) << U(8)) | ((x >> U(8)) & U(0xFF00)) | (x >> U(24)))


@njit(inline="always")
def _s0(x):  # type: ignore[no-untyped-def]
    return U(_rotr(x, 7) ^ _rotr(x, 18) ^ (x >> U(3)))


@njit(inline="always")
def _s1(x):  # type: ignore[no-untyped-def]
    return U(_rotr(x, 17) ^ _rotr(x, 19) ^ (x >> U(10)))


@njit(inline="always")
def _t1(h, e, f, g, kw):  # type: ignore[no-untyped-def]
    return U(U(h + U(_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25))) + U(U(g ^ (e & (f ^ g))) + kw))


@njit(inline="always")
def _expand(w, t0, t1):  # type: ignore[no-untyped-def]
    """Message schedule words ``t0 <= t < t1``."""
    for t in range(t0, t1):
        for i in range(LANES):
            w[t, i] = U(U(w[t - 16, i] + _s0(w[t - 15, i])) + U(w[t - 7, i] + _s1(w[t - 2, i])))


@njit(inline="always")
def _expand_sparse(w, t0, t1, s1, w7, s0, w16):  # type: ignore[no-untyped-def]
    """``_expand`` without the terms the flags switch off, for words whose inputs are known zeros."""
    for t in range(t0, t1):
        for i in range(LANES):
            x = U(0)
            if s1:
                x = U(x + _s1(w[t - 2, i]))
            if w7:
                x = U(x + w[t - 7, i])
            if s0:
                x = U(x + _s0(w[t - 15, i]))
            if w16:
                x = U(x + w[t - 16, i])
            w[t, i] = x


@njit(inline="always")
def _rounds(a, e, w, t0, t1):  # type: ignore[no-untyped-def]
    """Rounds ``t0 <= t < t1`` on the A/E histories."""
    for t in range(t0, t1):
        k = _K[t]
        for i in range(LANES):
            x = a[t + 3, i]
            y = a[t + 2, i]
            t1_ = _t1(e[t, i], e[t + 3, i], e[t + 2, i], e[t + 1, i], U(k + w[t, i]))
            t2_ = U(U(_rotr(x, 2) ^ _rotr(x, 13) ^ _rotr(x, 22)) + U((x & y) | (a[t + 1, i] & (x | y))))
            e[t + 4, i] = U(a[t, i] + t1_)
            a[t + 4, i] = U(t1_ + t2_)


@njit(inline="always")
def _set_state(a, e, s, i):  # type: ignore[no-untyped-def]
    """Lane ``i`` starts from state ``s`` (8 words)."""
    a[3, i] = s[0]
    a[2, i] = s[1]
    a[1, i] = s[2]
    a[0, i] = s[3]
    e[3, i] = s[4]
    e[2, i] = s[5]
    e[1, i] = s[6]
    e[0, i] = s[7]


@njit(inline="always")
def _add_final(out, row, a, e, s, i):  # type: ignore[no-untyped-def]
    """``out[row:row+8, i]`` = state ``s`` plus the result of 64 rounds (the next chained state)."""
    out[row, i] = U(s[0] + a[67, i])
    out[row + 1, i] = U(s[1] + a[66, i])
    out[row + 2, i] = U(s[2] + a[65, i])
    out[row + 3, i] = U(s[3] + a[64, i])
    out[row + 4, i] = U(s[4] + e[67, i])
    out[row + 5, i] = U(s[5] + e[66, i])
    out[row + 6, i] = U(s[6] + e[65, i])
    out[row + 7, i] = U(s[7] + e[64, i])


@njit(nogil=True, cache=True)
def scan_kernel(pre, tgt_hi, start, count, out):  # type: ignore[no-untyped-def]
    """Nonces in ``[start, start+count)`` whose hash's top 32 bits are <= ``tgt_hi``, ascending, into ``out``.

    Returns ``(found, examined)``: the kernel stops once ``out`` is full, after ``examined`` nonces.
    The second hash stops after round 60, the last one that feeds the top word H7.
    """
    a = np.empty((68, LANES), np.uint32)
    e = np.empty((68, LANES), np.uint32)
    w = np.empty((64, LANES), np.uint32)
    w2 = np.empty((64, LANES), np.uint32)
    top = np.empty(LANES, np.uint32)
    for t in range(16):
        for i in range(LANES):
            w[t, i] = 0
            w2[t, i] = 0
    for i in range(LANES):
        w[0, i] = pre[_PRE_TAIL]
        w[1, i] = pre[_PRE_TAIL + 1]
        w[2, i] = pre[_PRE_TAIL + 2]
        w[4, i] = U(0x80000000)
        w[15, i] = U(640)
        w[16, i] = pre[_PRE_W16]
        w[17, i] = pre[_PRE_W17]
        w2[8, i] = U(0x80000000)
        w2[15, i] = U(256)
    mid = pre[_PRE_MID : _PRE_MID + 8]
    found = 0
    end = start + count
    n = start
    while n < end:
        for i in range(LANES):
            w3 = _bswap(U(n + i))
            w[3, i] = w3
            for r in range(7):
                a[r, i] = pre[_PRE_A + r]
                e[r, i] = pre[_PRE_E + r]
            a[7, i] = U(pre[_PRE_A7] + w3)
            e[7, i] = U(pre[_PRE_E7] + w3)
            w[18, i] = U(pre[_PRE_W18] + _s0(w3))
            w[19, i] = U(pre[_PRE_W19] + w3)
        # W5..W14 are zero in the first hash: W20..W30 lose their s0 and W[t-16] terms.
        _expand_sparse(w, 20, 21, True, True, False, True)
        _expand_sparse(w, 21, 30, True, True, False, False)
        _expand_sparse(w, 30, 31, True, True, True, False)
        _expand(w, 31, 64)
        _rounds(a, e, w, 4, 64)
        for i in range(LANES):
            _add_final(w2, 0, a, e, mid, i)
            _set_state(a, e, _IV, i)
            a[4, i] = U(pre[_PRE_H2_A4] + w2[0, i])
            e[4, i] = U(pre[_PRE_H2_E4] + w2[0, i])
        # W9..W14 are zero in the second hash.
        _expand_sparse(w2, 16, 17, False, False, True, True)
        _expand_sparse(w2, 17, 22, True, False, True, True)
        _expand(w2, 22, 25)
        _expand_sparse(w2, 25, 30, True, True, False, False)
        _expand_sparse(w2, 30, 31, True, True, True, False)
        _expand(w2, 31, 61)
        _rounds(a, e, w2, 1, 60)
        hits = 0
        for i in range(LANES):  # round 60, E half only: E[64] is h after round 63, so H7 = IV7 + E[64]
            t1_ = _t1(e[60, i], e[63, i], e[62, i], e[61, i], U(_K[60] + w2[60, i]))
            top[i] = _bswap(U(_IV[7] + U(a[60, i] + t1_)))
            hits += top[i] <= tgt_hi
        if hits:
            for i in range(LANES):
                if top[i] <= tgt_hi and n + i < end:
                    out[found] = n + i
                    found += 1
                    if found == out.shape[0]:
                        return found, n + i + 1 - start
        n += LANES
    return found, count


@njit(nogil=True, cache=True)
def verify_kernel(words, targets, out):  # type: ignore[no-untyped-def]
    """``out[j] = sha256d(header j) <= target j`` for ``n`` headers, ``n`` a multiple of LANES.

    ``words`` is (20, n): the headers as big-endian words, one column per header; ``targets`` is
    (n, 8): each target as little-endian words (word 7 the most significant).
    """
    a = np.empty((68, LANES), np.uint32)
    e = np.empty((68, LANES), np.uint32)
    w = np.empty((64, LANES), np.uint32)
    st = np.empty((16, LANES), np.uint32)  # rows 0..7: state after block 1, rows 8..15: after block 2
    for base in range(0, words.shape[1], LANES):
        for t in range(16):
            for i in range(LANES):
                w[t, i] = words[t, base + i]
        for i in range(LANES):
            _set_state(a, e, _IV, i)
        _expand(w, 16, 64)
        _rounds(a, e, w, 0, 64)
        for i in range(LANES):
            _add_final(st, 0, a, e, _IV, i)
            _set_state(a, e, st[:, i], i)
            for t in range(4):
                w[t, i] = words[16 + t, base + i]
            w[4, i] = U(0x80000000)
            for t in range(5, 15):
                w[t, i] = 0
            w[15, i] = U(640)
        _expand(w, 16, 64)
        _rounds(a, e, w, 0, 64)
        for i in range(LANES):
            _add_final(st, 8, a, e, st[:, i], i)
            for t in range(8):
                w[t, i] = st[8 + t, i]
            w[8, i] = U(0x80000000)
            for t in range(9, 15):
                w[t, i] = 0
            w[15, i] = U(256)
            _set_state(a, e, _IV, i)
        _expand(w, 16, 64)
        _rounds(a, e, w, 0, 64)
        for i in range(LANES):
            _add_final(st, 0, a, e, _IV, i)
            ok = True
            for j in range(7, -1, -1):  # the hash as a little-endian number: word 7, byte-swapped, on top
                h = _bswap(st[j, i])
                if h != targets[base + i, j]:
                    ok = h < targets[base + i, j]
                    break
            out[base + i] = ok
    return out
