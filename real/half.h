/*
 * half.h — IEEE binary16 (f16) and bfloat16 (bf16) storage <-> f32.
 *
 * The executors store f16/bf16 tensors as the traces say but compute in
 * f32 (real/EXECUTOR.md, "Half types"): a half input is widened to f32
 * (exact: every f16 and bf16 value is an f32 value), the op runs as for
 * f32 data, and each result is rounded once back to the storage type,
 * to nearest with ties to even, as torch's `.to(torch.float16)` and
 * `.to(torch.bfloat16)` round.  Overflow gives ±inf, NaN stays a (quiet)
 * NaN with its sign, f16 subnormals are kept.
 *
 * Plain bit manipulation, no compiler half type: the same expressions
 * build as C and, for the CUDA kernels that include opcheck.h, as
 * __host__ __device__ code.
 */
#ifndef GN_HALF_H
#define GN_HALF_H

#include <stdint.h>

#if defined(__CUDACC__)
#define GN_HALF_FN __host__ __device__ static inline
#else
#define GN_HALF_FN static inline
#endif

GN_HALF_FN uint32_t gn_half_bits(float f)
{
    union {
        float f;
        uint32_t u;
    } v;
    v.f = f;
    return v.u;
}

GN_HALF_FN float gn_half_float(uint32_t u)
{
    union {
        float f;
        uint32_t u;
    } v;
    v.u = u;
    return v.f;
}

/* The f32 value of the f16 bit pattern H (exact). */
GN_HALF_FN float gn_half_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) /* inf, NaN (quiet, payload kept) */
        return gn_half_float(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0));
    if (exp == 0) { /* zero or subnormal: man · 2^-24, exact in f32 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return gn_half_float(sign | ((exp + 112u) << 23) | (man << 13));
}

/* F rounded to the nearest f16 (ties to even). */
GN_HALF_FN uint16_t gn_half_f32_to_f16(float f)
{
    uint32_t u = gn_half_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: quiet, top payload bits kept */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* >= 65520 rounds past the largest f16 (65504): inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) { /* below 2^-14: an f16 subnormal (or zero) */
        if (a < 0x33000000u) /* below 2^-25: rounds to zero */
            return (uint16_t)sign;
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u; /* value m · 2^(e-150) */
        uint32_t shift = 126u - e;                              /* to units of 2^-24: 14..24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u)))
            r++;
        return (uint16_t)(sign | r);
    }
    /* normal: rebias the exponent, round 13 mantissa bits away */
    uint32_t r = a - 0x38000000u, rem = r & 0x1fffu;
    r >>= 13;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u)))
        r++; /* a carry into the exponent is the right result */
    return (uint16_t)(sign | r);
}

/* The f32 value of the bf16 bit pattern H (exact). */
GN_HALF_FN float gn_half_bf16_to_f32(uint16_t h)
{
    return gn_half_float((uint32_t)h << 16);
}

/* F rounded to the nearest bf16 (ties to even). */
GN_HALF_FN uint16_t gn_half_f32_to_bf16(float f)
{
    uint32_t u = gn_half_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet */
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#endif /* GN_HALF_H */
