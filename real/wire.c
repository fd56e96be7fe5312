/*
 * wire.c — frame and tensor codecs of the wire protocol (see wire.h,
 * PROTOCOL.md).  Integers are little-endian on the wire whatever the host.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

/* ========================== CRC32C ========================== */

static uint32_t crc_table[8][256];
static int crc_ready;

/* Slicing-by-8 tables for the reflected Castagnoli polynomial. */
static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

/* Slicing-by-8 over the tables: any CPU. */
uint32_t gn_crc32c_portable(uint32_t crc, const void *p, size_t len)
{
    const uint8_t *b = p;
    if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
        crc_init();
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
              crc_table[4][lo >> 24] ^ crc_table[3][b[4]] ^ crc_table[2][b[5]] ^ crc_table[1][b[6]] ^
              crc_table[0][b[7]];
        b += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *b++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
/*
 * The SSE4.2 crc32 instruction computes CRC32C itself.  One chain of it
 * is bound by the instruction's latency (3 cycles per 8 bytes); three
 * independent chains over three lanes of a block keep it busy every
 * cycle, and the lanes' CRCs are joined by shifting them over the bytes
 * that follow them (CRC is linear: crc(A || B) = shift(crc(A), |B|) ^
 * crc0(B)), with a shift operator precomputed as a GF(2) 32x32 matrix,
 * the way zlib's crc32_combine does.  Chosen at run time; the same
 * results as the tables (test_wire compares them).
 */
#define LANE 8192 /* bytes per lane; a block is 3 lanes */

static uint32_t shift_lane[32];     /* operator: append LANE zero bytes */
static uint32_t shift_2lanes[32];   /* append 2 x LANE zero bytes */
static int shift_ready;

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;
    for (int i = 0; vec; i++, vec >>= 1)
        if (vec & 1)
            sum ^= mat[i];
    return sum;
}

/* OUT = A after B (apply B, then A). */
static void gf2_compose(uint32_t *out, const uint32_t *a, const uint32_t *b)
{
    uint32_t t[32];
    for (int i = 0; i < 32; i++)
        t[i] = gf2_times(a, b[i]);
    memcpy(out, t, sizeof(t));
}

static void shift_init(void)
{
    uint32_t bit[32], byte[32], acc[32];
    bit[0] = 0x82f63b78u; /* one zero bit into the reflected register */
    for (int i = 1; i < 32; i++)
        bit[i] = 1u << (i - 1);
    memcpy(byte, bit, sizeof(bit));
    for (int k = 1; k < 8; k++)
        gf2_compose(byte, byte, bit);
    /* acc = byte^LANE by square-and-multiply */
    for (int i = 0; i < 32; i++)
        acc[i] = 1u << i; /* identity */
    uint32_t sq[32];
    memcpy(sq, byte, sizeof(sq));
    for (unsigned n = LANE; n; n >>= 1) {
        if (n & 1)
            gf2_compose(acc, acc, sq);
        gf2_compose(sq, sq, sq);
    }
    memcpy(shift_lane, acc, sizeof(acc));
    gf2_compose(shift_2lanes, acc, acc);
    __atomic_store_n(&shift_ready, 1, __ATOMIC_RELEASE);
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *b, size_t len)
{
    uint64_t c = ~crc;
    if (len >= 3 * LANE && !__atomic_load_n(&shift_ready, __ATOMIC_ACQUIRE))
        shift_init(); /* idempotent: a race computes the same tables */
    while (len >= 3 * LANE) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t k = 0; k < LANE; k += 8) {
            uint64_t v0, v1, v2;
            memcpy(&v0, b + k, 8);
            memcpy(&v1, b + LANE + k, 8);
            memcpy(&v2, b + 2 * LANE + k, 8);
            c = __builtin_ia32_crc32di(c, v0);
            c1 = __builtin_ia32_crc32di(c1, v1);
            c2 = __builtin_ia32_crc32di(c2, v2);
        }
        c = gf2_times(shift_2lanes, (uint32_t)c) ^ gf2_times(shift_lane, (uint32_t)c1) ^ (uint32_t)c2;
        b += 3 * LANE;
        len -= 3 * LANE;
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, b, 8);
        c = __builtin_ia32_crc32di(c, v);
        b += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *b++);
    return ~c32;
}
#define HAVE_CRC_HW 1
#endif

uint32_t gn_crc32c(uint32_t crc, const void *p, size_t len)
{
#ifdef HAVE_CRC_HW
    static int hw = -1;
    if (hw < 0)
        hw = __builtin_cpu_supports("sse4.2") && !getenv("GN_CRC_SOFTWARE");
    if (hw)
        return crc_hw(crc, p, len);
#endif
    return gn_crc32c_portable(crc, p, len);
}

/* ========================== little-endian helpers ========================== */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* ========================== frames ========================== */

const char *gn_frame_name(uint16_t type)
{
    switch (type) {
#define GN_FRAME_NAME(id, code, name) \
    case code:                        \
        return name;
        GN_FRAME_MAP(GN_FRAME_NAME)
#undef GN_FRAME_NAME
    }
    return NULL;
}

/* Header layout: magic 0, version 4, type 6, flags 8, crc 12, session 16,
 * request 24, length 32. */
static void write_header(uint8_t *out, const gn_frame *f, uint32_t crc)
{
    put32(out, GN_WIRE_MAGIC);
    put16(out + 4, GN_WIRE_VERSION);
    put16(out + 6, f->type);
    put32(out + 8, f->flags);
    put32(out + 12, crc);
    put64(out + 16, f->session);
    put64(out + 24, f->request);
    put64(out + 32, f->length);
}

uint32_t gn_wire_crc_header(const gn_frame *f)
{
    uint8_t h[GN_WIRE_HEADER];
    write_header(h, f, 0);
    return gn_crc32c(0, h, sizeof(h));
}

static uint32_t frame_crc(const gn_frame *f, const void *payload)
{
    uint32_t crc = gn_wire_crc_header(f);
    return f->length ? gn_crc32c(crc, payload, (size_t)f->length) : crc;
}

void gn_wire_encode(uint8_t out[GN_WIRE_HEADER], gn_frame *f,
                    const void *payload)
{
    f->crc = frame_crc(f, payload);
    write_header(out, f, f->crc);
}

void gn_wire_write_header(uint8_t out[GN_WIRE_HEADER], const gn_frame *f)
{
    write_header(out, f, f->crc);
}

int gn_wire_decode(const uint8_t *buf, size_t max_payload, gn_frame *f,
                   gn_error *err)
{
    if (get32(buf) != GN_WIRE_MAGIC)
        return gn_error_set(err, GN_EPARSE, "frame: bad magic 0x%08x (not a Genie peer?)", get32(buf));
    if (get16(buf + 4) != GN_WIRE_VERSION)
        return gn_error_set(err, GN_EPARSE, "frame: protocol version %u, this side speaks %u",
                            get16(buf + 4), GN_WIRE_VERSION);
    if (!gn_frame_name(get16(buf + 6)))
        return gn_error_set(err, GN_EPARSE, "frame: unknown type %u", get16(buf + 6));
    if (get32(buf + 8) != 0)
        return gn_error_set(err, GN_EPARSE, "frame: flags 0x%x set, none are defined in version 1", get32(buf + 8));
    if (get64(buf + 32) > max_payload)
        return gn_error_set(err, GN_ERANGE, "frame: %s payload of %llu bytes exceeds the limit of %zu",
                            gn_frame_name(get16(buf + 6)), (unsigned long long)get64(buf + 32), max_payload);
    f->type = get16(buf + 6);
    f->flags = 0;
    f->crc = get32(buf + 12);
    f->session = get64(buf + 16);
    f->request = get64(buf + 24);
    f->length = get64(buf + 32);
    return 0;
}

int gn_wire_verify(const gn_frame *f, const void *payload, gn_error *err)
{
    uint32_t crc = frame_crc(f, payload);
    if (crc != f->crc)
        return gn_error_set(err, GN_EPARSE, "frame: %s request %llu: checksum 0x%08x, computed 0x%08x (corrupted)",
                            gn_frame_name(f->type) ? gn_frame_name(f->type) : "?",
                            (unsigned long long)f->request, f->crc, crc);
    return 0;
}

/* ========================== tensors ========================== */

/* Descriptor: id u32, dtype u8, ndim u8, reserved u16, data bytes u64. */
#define TENSOR_DESC 16

size_t gn_wire_tensor_size(const gn_wire_tensor *t)
{
    return TENSOR_DESC + 8 * (size_t)t->ndim + (size_t)t->bytes;
}

int64_t gn_wire_tensor_encode(const gn_wire_tensor *t, void *out, size_t len)
{
    size_t need = gn_wire_tensor_size(t);
    uint8_t *p = out;
    if (len < need || t->ndim > GN_WIRE_MAX_DIMS)
        return GN_ERANGE;
    put32(p, t->id);
    p[4] = (uint8_t)t->dtype;
    p[5] = (uint8_t)t->ndim;
    put16(p + 6, 0);
    put64(p + 8, t->bytes);
    for (uint32_t d = 0; d < t->ndim; d++)
        put64(p + TENSOR_DESC + 8 * d, (uint64_t)t->shape[d]);
    if (t->bytes)
        memcpy(p + TENSOR_DESC + 8 * t->ndim, t->data, (size_t)t->bytes);
    return (int64_t)need;
}

int gn_wire_tensor_decode(const void *payload, size_t len, gn_wire_tensor *t,
                          gn_error *err)
{
    const uint8_t *p = payload;
    gn_wire_tensor x;
    if (len < TENSOR_DESC)
        return gn_error_set(err, GN_EPARSE, "tensor: payload of %zu bytes is shorter than its descriptor", len);
    x.id = get32(p);
    if (p[4] >= GN_DTYPE_COUNT)
        return gn_error_set(err, GN_EPARSE, "tensor %u: unknown dtype %u", x.id, p[4]);
    x.dtype = (gn_dtype)p[4];
    x.ndim = p[5];
    if (x.ndim > GN_WIRE_MAX_DIMS || get16(p + 6) != 0)
        return gn_error_set(err, GN_EPARSE, "tensor %u: %u dims (at most %d) or reserved bits set", x.id, x.ndim,
                            GN_WIRE_MAX_DIMS);
    x.bytes = get64(p + 8);
    if (len < TENSOR_DESC + 8 * (size_t)x.ndim)
        return gn_error_set(err, GN_EPARSE, "tensor %u: payload ends inside the shape", x.id);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < x.ndim; d++) {
        uint64_t v = get64(p + TENSOR_DESC + 8 * d);
        if (v > (1ull << 40) || (numel && v && numel > (UINT64_MAX >> 4) / v))
            return gn_error_set(err, GN_EPARSE, "tensor %u: dim %u of %llu elements is implausible", x.id, d,
                                (unsigned long long)v);
        x.shape[d] = (int64_t)v;
        numel *= v;
    }
    size_t data_len = len - TENSOR_DESC - 8 * (size_t)x.ndim;
    if (x.bytes != numel * gn_dtype_size(x.dtype) || x.bytes != data_len)
        return gn_error_set(err, GN_EPARSE, "tensor %u: %llu data bytes declared, %llu expected from the shape, %zu present",
                            x.id, (unsigned long long)x.bytes,
                            (unsigned long long)(numel * gn_dtype_size(x.dtype)), data_len);
    x.data = p + TENSOR_DESC + 8 * x.ndim;
    *t = x;
    return 0;
}
