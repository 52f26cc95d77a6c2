// The baseline of benchmarks/kernels.py: a straightforward unrolled SHA-256d nonce scan with the
// midstate (the first 64 header bytes hashed once on the host) and nothing else: both compressions
// of every nonce in full, round by round, then a check of the hash's top 32 bits. The issue that asked
// for kernels/sha256d.cl measured this kind of kernel at 6.9 G hashes/s on an H100; the benchmark runs
// it on each OpenCL device in the same run as the real kernel, so the ratio needs no other machine.
#define ROTR(x, n) rotate((x), (uint)(32 - (n)))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))
#define CH(e, f, g) (((e) & (f)) ^ (~(e) & (g)))
#define MAJ(a, b, c) (((a) & (b)) ^ ((a) & (c)) ^ ((b) & (c)))

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

static inline __attribute__((always_inline)) void compress(uint *s, uint *w)
{
#pragma unroll
    for (int t = 16; t < 64; t++)
        w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
    uint a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
#pragma unroll
    for (int t = 0; t < 64; t++) {
        uint t1 = h + BSIG1(e) + CH(e, f, g) + K[t] + w[t];
        uint t2 = BSIG0(a) + MAJ(a, b, c);
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
}

// mid: the midstate (8 words) then the header's bytes 64..75 as 3 big-endian words. A nonce whose
// hash's top word is <= tgt_hi bumps results[0] and fills results[1 + k] while k < cap.
__kernel void scan(__constant const uint *mid, uint base, uint tgt_hi, __global uint *results, uint cap)
{
    uint nonce = base + (uint)get_global_id(0);
    uint w[64];
    w[0] = mid[8]; w[1] = mid[9]; w[2] = mid[10]; w[3] = as_uint(as_uchar4(nonce).wzyx);
    w[4] = 0x80000000u;
#pragma unroll
    for (int t = 5; t < 15; t++)
        w[t] = 0;
    w[15] = 640;
    uint s[8];
#pragma unroll
    for (int t = 0; t < 8; t++)
        s[t] = mid[t];
    compress(s, w);
#pragma unroll
    for (int t = 0; t < 8; t++)
        w[t] = s[t];
    w[8] = 0x80000000u;
#pragma unroll
    for (int t = 9; t < 15; t++)
        w[t] = 0;
    w[15] = 256;
    uint s2[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au, 0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    compress(s2, w);
    uint top = as_uint(as_uchar4(s2[7]).wzyx);
    if (top <= tgt_hi) {
        uint k = atomic_inc(results);
        if (k < cap)
            results[1 + k] = nonce;
    }
}
