// SHA-256d for Bitcoin headers: a nonce scan with midstate and precomputation, and a batch check.
// The host (kernels/opencl.py) computes `pre` with kernels.sha256.precompute; the PRE_* offsets
// below must match that module's.

#define PRE_MID 0
#define PRE_TAIL 8
#define PRE_A 11
#define PRE_E 18
#define PRE_A7 25
#define PRE_E7 26
#define PRE_W16 27
#define PRE_W17 28
#define PRE_W18 29
#define PRE_W19 30
#define PRE_H2_A4 31
#define PRE_H2_E4 32

// VEC nonces per work-item (1, 2, 4, 8 or 16) as OpenCL vector types: more than 1 only for CPU
// devices, where each vector lane maps onto a SIMD lane; GPUs already run work-items in lanes.
#ifndef VEC
#define VEC 1
#endif
#if VEC == 1
typedef uint vt;
#define LANE_IDS 0u
#elif VEC == 2
typedef uint2 vt;
#define LANE_IDS ((uint2)(0, 1))
#elif VEC == 4
typedef uint4 vt;
#define LANE_IDS ((uint4)(0, 1, 2, 3))
#elif VEC == 8
typedef uint8 vt;
#define LANE_IDS ((uint8)(0, 1, 2, 3, 4, 5, 6, 7))
#elif VEC == 16
typedef uint16 vt;
#define LANE_IDS ((uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#else
#error "VEC must be 1, 2, 4, 8 or 16"
#endif

// Pipe balancing for GPUs whose logic, shift and add instructions share one integer ALU pipe while
// multiplies run on another (NVIDIA since Volta: LOP3, SHF and IADD3 on the ALU pipe, IMAD on the FMA
// pipe, each issuing a warp every two cycles). With FMA_ADDS=1 the rounds' additions are written as
// x * fma_one + y, where fma_one is a kernel argument equal to 1 that the compiler cannot fold, so
// they become IMADs; FMA_ADDS=2 does the same for the message schedule's additions. FMA_ROTATES=1
// computes the rotations of BSIG0 as mul_hi(x, 2^(32-n)) + x * 2^(32-n) (two multiplies instead of
// one funnel shift). kernels/opencl.py builds these variants with SCAN_ONLY (the batch check stays
// plain), times them on each GPU and keeps the fastest; CPU devices use the plain kernel.
#ifndef FMA_ADDS
#define FMA_ADDS 0
#endif
#ifndef FMA_ROTATES
#define FMA_ROTATES 0
#endif
#if FMA_ADDS >= 1
#define RADD(x, y) ((x) * fma_one + (y))
#else
#define RADD(x, y) ((x) + (y))
#endif
#if FMA_ADDS >= 2
#define SADD(x, y) ((x) * fma_one + (y))
#else
#define SADD(x, y) ((x) + (y))
#endif

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#if FMA_ROTATES
// x rotated right by n, both halves from the multiplier; FMA_POW2(n) = 2^(32-n), made from fma_one.
#define FMA_POW2(n) (fma_one << (32 - (n)))
#define ROTR_MUL(x, n) (mul_hi((x), (vt)FMA_POW2(n)) + (x) * FMA_POW2(n))
#define BSIG0(x) (ROTR_MUL(x, 2) ^ ROTR_MUL(x, 13) ^ ROTR_MUL(x, 22))
#else
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#endif
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))
#define CH(e, f, g) bitselect((g), (f), (e))
#define MAJ(a, b, c) bitselect((b), (a), (b) ^ (c))
#define BSWAP(x) ((ROTR((x), 8) & 0xFF00FF00u) | (ROTR((x), 24) & 0x00FF00FFu))

// One round on variables of type T; the caller passes the eight working variables in rotated order.
#define ROUND(T, a, b, c, d, e, f, g, h, kw)                    \
    do {                                                        \
        T t1_ = RADD(RADD(RADD(h, BSIG1(e)), CH(e, f, g)), kw); \
        (d) = RADD(d, t1_);                                     \
        (h) = RADD(RADD(t1_, BSIG0(a)), MAJ(a, b, c));          \
    } while (0)

// Eight rounds from round t; A..H name the variables holding the roles a..h at round t.
#define ROUNDS8(T, A, B, C, D, E, F, G, H, t, w)                  \
    ROUND(T, A, B, C, D, E, F, G, H, K[(t)] + (w)[(t)]);           \
    ROUND(T, H, A, B, C, D, E, F, G, K[(t) + 1] + (w)[(t) + 1]);   \
    ROUND(T, G, H, A, B, C, D, E, F, K[(t) + 2] + (w)[(t) + 2]);   \
    ROUND(T, F, G, H, A, B, C, D, E, K[(t) + 3] + (w)[(t) + 3]);   \
    ROUND(T, E, F, G, H, A, B, C, D, K[(t) + 4] + (w)[(t) + 4]);   \
    ROUND(T, D, E, F, G, H, A, B, C, K[(t) + 5] + (w)[(t) + 5]);   \
    ROUND(T, C, D, E, F, G, H, A, B, K[(t) + 6] + (w)[(t) + 6]);   \
    ROUND(T, B, C, D, E, F, G, H, A, K[(t) + 7] + (w)[(t) + 7])

__constant uint K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

#define IV0 0x6a09e667u
#define IV1 0xbb67ae85u
#define IV2 0x3c6ef372u
#define IV3 0xa54ff53au
#define IV4 0x510e527fu
#define IV5 0x9b05688cu
#define IV6 0x1f83d9abu
#define IV7 0x5be0cd19u

// Message schedule words from..63 of w (a macro so that `from` is a constant when unrolling).
#define EXPAND(w, from)                                                            \
    _Pragma("unroll") for (int t_ = (from); t_ < 64; t_++)                          \
        (w)[t_] = SADD(SADD(SADD(SSIG1((w)[t_ - 2]), (w)[t_ - 7]), SSIG0((w)[t_ - 15])), (w)[t_ - 16])

#ifndef SCAN_ONLY
// A full 64-round compression of the schedule `w` (already expanded) into `s`.
static inline __attribute__((always_inline)) void compress(uint *s, const uint *w)
{
    uint a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
#pragma unroll
    for (int t = 0; t < 64; t += 8) {
        ROUNDS8(uint, a, b, c, d, e, f, g, h, t, w);
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
}
#endif

// Work-item i hashes the VEC nonces base + VEC*i + lane that are below base + count. A nonce whose
// hash's top 32 bits are <= tgt_hi is a candidate: it bumps results[0] and, while there is room,
// fills results[1 + k], k < cap. `slot` picks this launch's own block of 1 + cap words.
__kernel void scan(__constant const uint *pre, uint base, uint count, uint tgt_hi,
                   __global uint *results, uint cap, uint slot, uint fma_one)
{
    uint first = (uint)get_global_id(0) * VEC;
    if (first >= count)
        return;
    vt nonce = (vt)(base + first) + LANE_IDS;
    vt w3 = BSWAP(nonce);
    vt w[64];
    w[0] = (vt)pre[PRE_TAIL]; w[1] = (vt)pre[PRE_TAIL + 1]; w[2] = (vt)pre[PRE_TAIL + 2]; w[3] = w3;
    w[4] = (vt)0x80000000u;
#pragma unroll
    for (int t = 5; t < 15; t++)
        w[t] = (vt)0;
    w[15] = (vt)640;
    w[16] = (vt)pre[PRE_W16];
    w[17] = (vt)pre[PRE_W17];
    w[18] = pre[PRE_W18] + SSIG0(w3);
    w[19] = pre[PRE_W19] + w3;
    EXPAND(w, 20);

    // Rounds 0..3 were done on the host (round 3 up to its "+ W3"), so start at round 4.
    vt a = pre[PRE_A7] + w3, b = (vt)pre[PRE_A + 6], c = (vt)pre[PRE_A + 5], d = (vt)pre[PRE_A + 4];
    vt e = pre[PRE_E7] + w3, f = (vt)pre[PRE_E + 6], g = (vt)pre[PRE_E + 5], h = (vt)pre[PRE_E + 4];
    ROUND(vt, a, b, c, d, e, f, g, h, K[4] + w[4]);
    ROUND(vt, h, a, b, c, d, e, f, g, K[5] + w[5]);
    ROUND(vt, g, h, a, b, c, d, e, f, K[6] + w[6]);
    ROUND(vt, f, g, h, a, b, c, d, e, K[7] + w[7]);
#pragma unroll
    for (int t = 8; t < 64; t += 8) {  // rounds 4..7 shifted the roles by four
        ROUNDS8(vt, e, f, g, h, a, b, c, d, t, w);
    }
    vt v[64];
    v[0] = pre[PRE_MID] + e; v[1] = pre[PRE_MID + 1] + f; v[2] = pre[PRE_MID + 2] + g; v[3] = pre[PRE_MID + 3] + h;
    v[4] = pre[PRE_MID + 4] + a; v[5] = pre[PRE_MID + 5] + b; v[6] = pre[PRE_MID + 6] + c; v[7] = pre[PRE_MID + 7] + d;
    v[8] = (vt)0x80000000u;
#pragma unroll
    for (int t = 9; t < 15; t++)
        v[t] = (vt)0;
    v[15] = (vt)256;
    EXPAND(v, 16);

    // Second hash; round 0 only adds W0 to constants. Rounds 1..59, then the half of round 60 that
    // yields H7, the hash's most significant word.
    a = pre[PRE_H2_A4] + v[0]; b = (vt)IV0; c = (vt)IV1; d = (vt)IV2;
    e = pre[PRE_H2_E4] + v[0]; f = (vt)IV4; g = (vt)IV5; h = (vt)IV6;
    ROUND(vt, a, b, c, d, e, f, g, h, K[1] + v[1]);
    ROUND(vt, h, a, b, c, d, e, f, g, K[2] + v[2]);
    ROUND(vt, g, h, a, b, c, d, e, f, K[3] + v[3]);
    ROUND(vt, f, g, h, a, b, c, d, e, K[4] + v[4]);
    ROUND(vt, e, f, g, h, a, b, c, d, K[5] + v[5]);
    ROUND(vt, d, e, f, g, h, a, b, c, K[6] + v[6]);
    ROUND(vt, c, d, e, f, g, h, a, b, K[7] + v[7]);
#pragma unroll
    for (int t = 8; t < 56; t += 8) {
        ROUNDS8(vt, b, c, d, e, f, g, h, a, t, v);
    }
    ROUND(vt, b, c, d, e, f, g, h, a, K[56] + v[56]);
    ROUND(vt, a, b, c, d, e, f, g, h, K[57] + v[57]);
    ROUND(vt, h, a, b, c, d, e, f, g, K[58] + v[58]);
    ROUND(vt, g, h, a, b, c, d, e, f, K[59] + v[59]);
    // Round 60 has the roles (f, g, h, a, b, c, d, e): its new e is a + t1, with h = e and e = b.
    union {
        vt v;
        uint s[VEC];
    } top;
    top.v = BSWAP(IV7 + a + e + BSIG1(b) + CH(b, c, d) + K[60] + v[60]);
    for (int lane = 0; lane < VEC; lane++) {
        if (top.s[lane] <= tgt_hi && first + lane < count) {
            __global uint *res = results + slot * (1 + cap);
            uint k = atomic_inc(res);
            if (k < cap)
                res[1 + k] = base + first + lane;
        }
    }
}

#ifndef SCAN_ONLY
// out[i] = 1 when sha256d(header i) <= target i. `words` holds each header as 20 big-endian words;
// `targets` each target as 8 little-endian words (word 7 the most significant).
__kernel void verify(__global const uint *words, __global const uint *targets, __global uchar *out, uint n)
{
    uint i = (uint)get_global_id(0);
    if (i >= n)
        return;
    __global const uint *hw = words + 20 * i;
    uint s[8] = {IV0, IV1, IV2, IV3, IV4, IV5, IV6, IV7};
    uint w[64];
#pragma unroll
    for (int t = 0; t < 16; t++)
        w[t] = hw[t];
    EXPAND(w, 16);
    compress(s, w);
    w[0] = hw[16]; w[1] = hw[17]; w[2] = hw[18]; w[3] = hw[19]; w[4] = 0x80000000u;
#pragma unroll
    for (int t = 5; t < 15; t++)
        w[t] = 0;
    w[15] = 640;
    EXPAND(w, 16);
    compress(s, w);
#pragma unroll
    for (int t = 0; t < 8; t++)
        w[t] = s[t];
    w[8] = 0x80000000u;
#pragma unroll
    for (int t = 9; t < 15; t++)
        w[t] = 0;
    w[15] = 256;
    EXPAND(w, 16);
    uint s2[8] = {IV0, IV1, IV2, IV3, IV4, IV5, IV6, IV7};
    compress(s2, w);
    __global const uint *tw = targets + 8 * i;
    uchar ok = 1;
    for (int j = 7; j >= 0; j--) {
        uint hv = BSWAP(s2[j]);
        if (hv != tw[j]) {
            ok = hv < tw[j];
            break;
        }
    }
    out[i] = ok;
}
#endif
