/*
 * test_wire.c — wire protocol: CRC32C, frame and tensor codecs, and the
 * rejection of every malformed frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "conn.h"
#include "hello.h"
#include "planwire.h"
#include "session.h"
#include "trace.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void test_crc32c_known_vectors(void **state)
{
    assert_int_equal(gn_crc32c(0, "123456789", 9), 0xe3069283u); /* RFC 3720 check value */
    uint8_t zeros[32] = {0};
    assert_int_equal(gn_crc32c(0, zeros, 32), 0x8a9136aau);      /* RFC 3720 B.4 */
    /* incremental equals one-shot */
    const char *s = "the quick brown fox jumps over the lazy dog";
    assert_int_equal(gn_crc32c(gn_crc32c(0, s, 10), s + 10, strlen(s) - 10), gn_crc32c(0, s, strlen(s)));
    /* the hardware path (three lanes joined) agrees with the tables at
     * every length around the lane boundaries, and in pieces */
    size_t n = 3 * 8192 * 3 + 77;
    uint8_t *buf = malloc(n);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    const size_t lens[] = {0, 1, 7, 8, 24575, 24576, 24577, 49152, 49159, n};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        assert_int_equal(gn_crc32c(0, buf, lens[i]), gn_crc32c_portable(0, buf, lens[i]));
    assert_int_equal(gn_crc32c(gn_crc32c(0x1234u, buf, 30000), buf + 30000, n - 30000),
                     gn_crc32c_portable(0x1234u, buf, n));
    free(buf);
    (void)state;
}

static size_t make_tensor_frame(uint8_t *buf, size_t len)
{
    float data[6] = {1, 2, 3, 4, 5, 6};
    gn_wire_tensor t = {7, GN_DTYPE_F32, 2, {2, 3}, data, sizeof(data)};
    int64_t n = gn_wire_tensor_encode(&t, buf + GN_WIRE_HEADER, len - GN_WIRE_HEADER);
    assert_true(n > 0);
    gn_frame f = {GN_FRAME_TENSOR, 0, 42, 9, (uint64_t)n, 0};
    gn_wire_encode(buf, &f, buf + GN_WIRE_HEADER);
    return GN_WIRE_HEADER + (size_t)n;
}

static void test_round_trip(void **state)
{
    uint8_t buf[256];
    size_t n = make_tensor_frame(buf, sizeof(buf));
    gn_frame f;
    gn_error err;
    assert_int_equal(gn_wire_decode(buf, 1 << 20, &f, &err), 0);
    assert_int_equal(f.type, GN_FRAME_TENSOR);
    assert_int_equal(f.session, 42);
    assert_int_equal(f.request, 9);
    assert_int_equal(f.length, n - GN_WIRE_HEADER);
    assert_int_equal(gn_wire_verify(&f, buf + GN_WIRE_HEADER, &err), 0);
    gn_wire_tensor t;
    assert_int_equal(gn_wire_tensor_decode(buf + GN_WIRE_HEADER, (size_t)f.length, &t, &err), 0);
    assert_int_equal(t.id, 7);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.shape[1], 3);
    assert_true(((const float *)t.data)[5] == 6.0f);
    (void)state;
}

static void expect_decode_error(const uint8_t *buf, int code, const char *needle)
{
    gn_frame f = {0};
    gn_frame before = f;
    gn_error err;
    assert_int_equal(gn_wire_decode(buf, 1 << 20, &f, &err), code);
    assert_non_null(strstr(err.msg, needle));
    assert_memory_equal(&f, &before, sizeof(f)); /* untouched on error */
}

static void test_malformed_frames(void **state)
{
    uint8_t good[256], b[256];
    size_t n = make_tensor_frame(good, sizeof(good));
    gn_error err;

    memcpy(b, good, n); b[0] ^= 1;
    expect_decode_error(b, GN_EPARSE, "bad magic");
    memcpy(b, good, n); b[4] = 9;
    expect_decode_error(b, GN_EPARSE, "version");
    memcpy(b, good, n); b[6] = 99;
    expect_decode_error(b, GN_EPARSE, "unknown type");
    memcpy(b, good, n); b[8] = 1;
    expect_decode_error(b, GN_EPARSE, "flags");
    memcpy(b, good, n); b[39] = 0x10; /* a huge length */
    expect_decode_error(b, GN_ERANGE, "exceeds the limit");

    /* a flipped payload bit or header bit fails the checksum */
    gn_frame f;
    memcpy(b, good, n); b[n - 1] ^= 0x40;
    assert_int_equal(gn_wire_decode(b, 1 << 20, &f, &err), 0);
    assert_int_equal(gn_wire_verify(&f, b + GN_WIRE_HEADER, &err), GN_EPARSE);
    assert_non_null(strstr(err.msg, "checksum"));
    memcpy(b, good, n); b[20] ^= 1; /* session id */
    assert_int_equal(gn_wire_decode(b, 1 << 20, &f, &err), 0);
    assert_int_equal(gn_wire_verify(&f, b + GN_WIRE_HEADER, &err), GN_EPARSE);

    /* tensor payloads: truncated, bad dtype, length not matching shape */
    gn_wire_tensor t;
    const uint8_t *p = good + GN_WIRE_HEADER;
    size_t plen = n - GN_WIRE_HEADER;
    assert_int_equal(gn_wire_tensor_decode(p, 10, &t, &err), GN_EPARSE);
    assert_int_equal(gn_wire_tensor_decode(p, 20, &t, &err), GN_EPARSE);
    assert_int_equal(gn_wire_tensor_decode(p, plen - 1, &t, &err), GN_EPARSE);
    memcpy(b, p, plen); b[4] = 200;
    assert_int_equal(gn_wire_tensor_decode(b, plen, &t, &err), GN_EPARSE);
    assert_non_null(strstr(err.msg, "dtype"));
    memcpy(b, p, plen); b[16] = 3; /* shape 3x3 no longer matches 24 bytes */
    assert_int_equal(gn_wire_tensor_decode(b, plen, &t, &err), GN_EPARSE);
    (void)state;
}

/* HELLO: what genie-real encodes the node decodes to the same fields and
 * session; every field out of range, a payload that is not a HELLO and a
 * trace the loader refuses are errors that leave the output alone. */
/* tests/data/good_tiny.json, loaded (caller destroys). */
static gn_session *good_tiny(void)
{
    char path[1024];
    const char *dir = getenv("GN_TEST_DATA");
    snprintf(path, sizeof(path), "%s/good_tiny.json", dir ? dir : "tests/data");
    gn_error err;
    gn_session *s = gn_trace_load(path, &err);
    assert_non_null(s);
    return s;
}

static void test_hello(void **state)
{
    gn_error err;
    gn_session *s = good_tiny();
    json_t *trace = gn_trace_to_json(s);
    char *text = gn_hello_encode(2, 3, 12345678901ull, 0.25, 1, trace);
    assert_non_null(text);
    gn_hello h;
    assert_int_equal(gn_hello_decode(text, strlen(text), &h, &err), 0);
    assert_int_equal(h.machine, 2);
    assert_int_equal(h.nodes, 3);
    assert_true(h.seed == 12345678901ull);
    assert_true(h.scale == 0.25);
    assert_int_equal(h.warm, 1);
    assert_int_equal(gn_session_nsteps(h.s), gn_session_nsteps(s));
    gn_session_destroy(h.s);
    free(text);

    struct { const char *json; int code; const char *says; } bad[] = {
        {"not json", GN_EPARSE, "hello"},
        {"{\"machine\": 0}", GN_EPARSE, "hello"},
        {"{\"machine\": 1, \"nodes\": 1, \"seed\": 0, \"scale\": 1, \"warm\": false, \"trace\": {}}", GN_EINVAL,
         "out of range"},
        {"{\"machine\": -1, \"nodes\": 1, \"seed\": 0, \"scale\": 1, \"warm\": false, \"trace\": {}}", GN_EINVAL,
         "out of range"},
        {"{\"machine\": 0, \"nodes\": 5000, \"seed\": 0, \"scale\": 1, \"warm\": false, \"trace\": {}}", GN_EINVAL,
         "out of range"},
        {"{\"machine\": 0, \"nodes\": 1, \"seed\": 0, \"scale\": -1, \"warm\": false, \"trace\": {}}", GN_EINVAL,
         "out of range"},
        {"{\"machine\": 0, \"nodes\": 1, \"seed\": 0, \"scale\": 1, \"warm\": false, \"trace\": {}}", 0, "hello"},
        {"{\"machine\": 0, \"nodes\": 1, \"seed\": 0, \"scale\": 1, \"warm\": false, \"trace\": [1]}", 0, "hello"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gn_hello keep = {7, 7, 7, 7, 7, NULL};
        h = keep;
        int rc = gn_hello_decode(bad[i].json, strlen(bad[i].json), &h, &err);
        assert_true(rc < 0);
        if (bad[i].code)
            assert_int_equal(rc, bad[i].code);
        assert_non_null(strstr(err.msg, bad[i].says));
        assert_memory_equal(&h, &keep, sizeof(h));
    }
    /* a trace that loads, but whose schema is not the trace's */
    json_object_set_new(trace, "schema", json_string("something.else"));
    text = gn_hello_encode(0, 1, 0, 1, 0, trace);
    assert_true(gn_hello_decode(text, strlen(text), &h, &err) < 0);
    assert_non_null(strstr(err.msg, "hello"));
    free(text);
    json_decref(trace);
    gn_session_destroy(s);
    (void)state;
}

/* Smoke run of the fuzz target: deterministic random mutations of a valid
 * TENSOR frame and a valid PLAN frame (bit flips, byte sets, truncations,
 * length games), and of a session's HELLO + PLAN.  Under ASan and
 * UBSan in CI; scripts/fuzz explores further with libFuzzer. */
/* A PLAN frame: two devices, a transfer with two items, a compute task. */
static size_t make_plan_frame(uint8_t *out, size_t cap)
{
    gn_plan *p = gn_plan_create("fuzz");
    gn_plan_add_device(p, "client", 0, -1);
    gn_plan_add_device(p, "node0.gpu0", 1, 0);
    int t = gn_plan_add_transfer(p, 0, 0, 1, -1, 0, 1e-6, 64, "upload x", NULL, 0);
    gn_item items[2] = {{0, 0}, {0, 1}};
    gn_plan_set_items(p, (uint32_t)t, items, 2);
    gn_plan_add_compute(p, 0, 1, -1, 0, 1e-6, 8, 64, 0, "matmul", NULL, 0);
    unsigned char *pw;
    size_t len;
    assert_int_equal(gn_planwire_encode(p, &pw, &len), 0);
    assert_true(GN_WIRE_HEADER + len <= cap);
    gn_frame f = {GN_FRAME_PLAN, 0, 1, 2, len, 0};
    gn_wire_encode(out, &f, pw);
    memcpy(out + GN_WIRE_HEADER, pw, len);
    free(pw);
    gn_plan_destroy(p);
    return GN_WIRE_HEADER + len;
}

/* A session's first frames: HELLO (good_tiny.json's trace), then PLAN. */
static size_t make_session_stream(uint8_t *out, size_t cap)
{
    gn_session *s = good_tiny();
    json_t *trace = gn_trace_to_json(s);
    char *text = gn_hello_encode(0, 1, 1, 0.5, 0, trace);
    size_t n = strlen(text);
    assert_true(GN_WIRE_HEADER + n < cap);
    gn_frame f = {GN_FRAME_HELLO, 0, 0, 1, n, 0};
    gn_wire_encode(out, &f, text);
    memcpy(out + GN_WIRE_HEADER, text, n);
    free(text);
    json_decref(trace);
    gn_session_destroy(s);
    return GN_WIRE_HEADER + n + make_plan_frame(out + GN_WIRE_HEADER + n, cap - GN_WIRE_HEADER - n);
}

static void test_fuzz_smoke(void **state)
{
    static uint8_t seeds[3][4096], b[4096];
    size_t sizes[3] = {make_tensor_frame(seeds[0], sizeof(seeds[0])), make_plan_frame(seeds[1], sizeof(seeds[1])),
                       make_session_stream(seeds[2], sizeof(seeds[2]))};
    /* the stream is good as it is: the node would take both frames */
    LLVMFuzzerTestOneInput(seeds[2], sizes[2]);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int iter = 0; iter < 60000; iter++) {
        const uint8_t *good = seeds[iter % 3];
        size_t n = sizes[iter % 3];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(b, good, n);
        int muts = 1 + (int)(x % 4);
        for (int m = 0; m < muts; m++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x >> 8) % n;
            if (x & 1)
                b[at] ^= (uint8_t)(1u << ((x >> 3) & 7));
            else
                b[at] = (uint8_t)(x >> 16);
        }
        size_t len = (x & 0x300) ? n : (size_t)(x >> 20) % (n + 1);
        /* re-seal some frames so mutations reach the payload decoders */
        if ((x & 0xc00) == 0 && len >= GN_WIRE_HEADER) {
            gn_frame f;
            gn_error err;
            if (gn_wire_decode(b, 1 << 20, &f, &err) == 0 && f.length <= len - GN_WIRE_HEADER)
                gn_wire_encode(b, &f, b + GN_WIRE_HEADER);
        }
        LLVMFuzzerTestOneInput(b, len);
    }
    (void)state;
}

/* A peer that stops reading: with SO_SNDTIMEO (genie-node's
 * --idle-timeout), a send that can make no progress fails, saying so,
 * instead of blocking the session forever. */
static void test_conn_send_timeout(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct timeval tv = {0, 200000};
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
    gn_conn *a = gn_conn_create(sv[0], 1 << 20);
    size_t big = (size_t)16 << 20; /* far beyond a socket pair's buffers */
    char *p = calloc(1, big);
    gn_error err;
    assert_int_equal(gn_conn_send(a, GN_FRAME_PING, 0, 1, p, big, &err), GN_EIO);
    assert_non_null(strstr(err.msg, "took nothing"));
    free(p);
    gn_conn_destroy(a);
    close(sv[1]);
    (void)state;
}

/* Whole frames over a socket pair: payload intact, truncation and
 * corruption detected, clean close reported as 1. */
static void test_conn_socketpair(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    gn_conn *a = gn_conn_create(sv[0], 1 << 20), *b = gn_conn_create(sv[1], 1 << 20);
    gn_error err;
    char msg[1000];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (char)(i * 7);
    assert_int_equal(gn_conn_send(a, GN_FRAME_TENSOR, 3, 4, msg, sizeof(msg), &err), 0);
    assert_int_equal(gn_conn_send(a, GN_FRAME_BYE, 3, 5, NULL, 0, &err), 0);
    gn_frame f;
    const void *p;
    assert_int_equal(gn_conn_recv(b, &f, &p, &err), 0);
    assert_int_equal(f.type, GN_FRAME_TENSOR);
    assert_int_equal(f.length, sizeof(msg));
    assert_memory_equal(p, msg, sizeof(msg));
    assert_int_equal(gn_conn_recv(b, &f, &p, &err), 0);
    assert_int_equal(f.type, GN_FRAME_BYE);
    /* a corrupted frame written raw fails its checksum */
    uint8_t raw[GN_WIRE_HEADER + 4] = {0};
    gn_frame g = {GN_FRAME_ERROR, 0, 1, 2, 4, 0};
    memcpy(raw + GN_WIRE_HEADER, "oops", 4);
    gn_wire_encode(raw, &g, raw + GN_WIRE_HEADER);
    raw[GN_WIRE_HEADER] = 'O';
    assert_int_equal(write(gn_conn_fd(a), raw, sizeof(raw)), (ssize_t)sizeof(raw));
    assert_int_equal(gn_conn_recv(b, &f, &p, &err), GN_EPARSE);
    /* a frame cut short by the peer closing */
    gn_wire_encode(raw, &g, raw + GN_WIRE_HEADER);
    assert_int_equal(write(gn_conn_fd(a), raw, GN_WIRE_HEADER + 2), GN_WIRE_HEADER + 2);
    gn_conn_destroy(a);
    assert_int_equal(gn_conn_recv(b, &f, &p, &err), GN_EIO);
    assert_non_null(strstr(err.msg, "closed"));
    gn_conn_destroy(b);
    (void)state;
}

/* A payload larger than a piece goes as DATA + MORE frames and streams
 * back whole; a corrupted MORE frame is caught. */
static void test_conn_pieces(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    gn_conn *a = gn_conn_create(sv[0], 1 << 20), *b = gn_conn_create(sv[1], 1 << 20);
    size_t n = 3 * GN_CONN_PIECE + 12345;
    uint8_t *src = malloc(n), *dst = malloc(n);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i * 131 + 7);
    struct iovec iov[3] = {{src, 100}, {src + 100, 2 * GN_CONN_PIECE}, {src + 100 + 2 * GN_CONN_PIECE, n - 100 - 2 * GN_CONN_PIECE}};
    gn_error err;
    pid_t kid = fork();
    if (kid == 0) { /* the sender */
        signal(SIGALRM, SIG_DFL);
        int rc = gn_conn_sendv(a, GN_FRAME_DATA, 1, 42, iov, 3, &err);
        _exit(rc == 0 ? 0 : 1);
    }
    gn_frame f;
    size_t first;
    (void)first;
    assert_int_equal(gn_conn_recv_begin(b, &f, &err), 0);
    assert_int_equal(f.type, GN_FRAME_DATA);
    assert_int_equal(f.length, GN_CONN_PIECE);
    for (size_t off = 0; off < n;) { /* odd reads across frame boundaries */
        size_t k = n - off < 777777 ? n - off : 777777;
        if (gn_conn_recv_read(b, dst + off, k, &err) < 0)
            fail_msg("%s", err.msg);
        off += k;
    }
    assert_int_equal(gn_conn_recv_end(b, &err), 0);
    assert_memory_equal(src, dst, n);
    int status;
    waitpid(kid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* corrupt the second frame's payload on the way: the read that ends
     * that frame fails on its checksum */
    kid = fork();
    if (kid == 0) {
        uint8_t hdr[GN_WIRE_HEADER];
        gn_frame h1 = {GN_FRAME_DATA, 0, 1, 43, 8, 0}, h2 = {GN_FRAME_MORE, 0, 1, 43, 8, 0};
        gn_wire_encode(hdr, &h1, src);
        ssize_t w = write(sv[0], hdr, sizeof(hdr));
        w = write(sv[0], src, 8);
        gn_wire_encode(hdr, &h2, src + 8);
        w = write(sv[0], hdr, sizeof(hdr));
        uint8_t bad[8];
        memcpy(bad, src + 8, 8);
        bad[3] ^= 1;
        w = write(sv[0], bad, 8);
        (void)w;
        _exit(0);
    }
    assert_int_equal(gn_conn_recv_begin(b, &f, &err), 0);
    assert_int_equal(gn_conn_recv_read(b, dst, 8, &err), 0);
    assert_int_equal(gn_conn_recv_read(b, dst + 8, 8, &err), 0);
    assert_int_equal(gn_conn_recv_end(b, &err), GN_EPARSE);
    assert_non_null(strstr(err.msg, "checksum"));
    waitpid(kid, &status, 0);
    free(src);
    free(dst);
    gn_conn_destroy(a);
    gn_conn_destroy(b);
    (void)state;
}

/* A payload that fills its last frame exactly, with an empty piece after
 * it (transfer metadata of 0 bytes), goes as whole frames only: no empty
 * MORE frame follows it, which the receiver would take for the next one. */
static void test_conn_exact_pieces(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    gn_conn *a = gn_conn_create(sv[0], 1 << 20), *b = gn_conn_create(sv[1], 1 << 20);
    size_t n = 2 * GN_CONN_PIECE;
    uint8_t *src = malloc(n), *dst = malloc(n);
    assert_true(src && dst);
    memset(src, 5, n);
    struct iovec iov[3] = {{src, 16}, {src + 16, n - 16}, {src, 0}};
    gn_error err;
    pid_t kid = fork();
    if (kid == 0) {
        signal(SIGALRM, SIG_DFL);
        int rc = gn_conn_sendv(a, GN_FRAME_DATA, 1, 42, iov, 3, &err);
        if (rc == 0)
            rc = gn_conn_send(a, GN_FRAME_PING, 1, 43, NULL, 0, &err);
        _exit(rc == 0 ? 0 : 1);
    }
    gn_frame f;
    assert_int_equal(gn_conn_recv_begin(b, &f, &err), 0);
    assert_int_equal(f.type, GN_FRAME_DATA);
    assert_int_equal(gn_conn_recv_read(b, dst, n, &err), 0);
    assert_int_equal(gn_conn_recv_end(b, &err), 0);
    const void *payload;
    assert_int_equal(gn_conn_recv(b, &f, &payload, &err), 0);
    assert_int_equal(f.type, GN_FRAME_PING);
    assert_int_equal(f.request, 43);
    int status;
    waitpid(kid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(src);
    free(dst);
    gn_conn_destroy(a);
    gn_conn_destroy(b);
    (void)state;
}

/* Frames that arrive together are read ahead (conn.h): 200 small frames
 * (a remote call each), one frame larger than the read-ahead buffer whose
 * first bytes arrive with them, read back in odd pieces, then a header
 * written in two halves with a pause between: all arrive intact, in order. */
static void test_conn_read_ahead(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    gn_conn *a = gn_conn_create(sv[0], 1 << 20), *b = gn_conn_create(sv[1], 1 << 20);
    enum { CALLS = 200, BIG = 200000 };
    uint8_t *big = malloc(BIG), *got = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (uint8_t)(i * 29 + 3);
    gn_error err;
    pid_t kid = fork();
    if (kid == 0) { /* the sender: everything back to back */
        signal(SIGALRM, SIG_DFL);
        uint8_t arg[40];
        int rc = 0;
        for (int i = 0; i < CALLS && rc == 0; i++) {
            memset(arg, i, sizeof(arg));
            rc = gn_conn_send(a, GN_FRAME_DATA, 1, (uint64_t)i, arg, (size_t)(i % 41), &err);
        }
        if (rc == 0)
            rc = gn_conn_send(a, GN_FRAME_TENSOR, 1, 1000, big, BIG, &err);
        uint8_t hdr[GN_WIRE_HEADER];
        gn_frame h = {GN_FRAME_BYE, 0, 1, 1001, 0, 0};
        gn_wire_encode(hdr, &h, NULL);
        if (rc == 0 && write(sv[0], hdr, 10) != 10)
            rc = 1;
        usleep(20000); /* the receiver has read what came and waits inside the header */
        if (rc == 0 && write(sv[0], hdr + 10, sizeof(hdr) - 10) != (ssize_t)(sizeof(hdr) - 10))
            rc = 1;
        _exit(rc == 0 ? 0 : 1);
    }
    usleep(20000); /* let the calls and the start of the big frame queue up */
    gn_frame f;
    const void *p;
    for (int i = 0; i < CALLS; i++) {
        if (gn_conn_recv(b, &f, &p, &err) != 0)
            fail_msg("call %d: %s", i, err.msg);
        assert_int_equal(f.type, GN_FRAME_DATA);
        assert_int_equal(f.request, (uint64_t)i);
        assert_int_equal(f.length, (uint64_t)(i % 41));
        for (size_t k = 0; k < f.length; k++)
            assert_int_equal(((const uint8_t *)p)[k], (uint8_t)i);
    }
    assert_int_equal(gn_conn_recv_begin(b, &f, &err), 0);
    assert_int_equal(f.type, GN_FRAME_TENSOR);
    assert_int_equal(f.length, BIG);
    for (size_t off = 0; off < BIG;) { /* a few bytes, then more than the read-ahead buffer, then the rest */
        size_t k = off == 0 ? 7 : off == 7 ? 100000 : BIG - off;
        if (gn_conn_recv_read(b, got + off, k, &err) < 0)
            fail_msg("%s", err.msg);
        off += k;
    }
    assert_int_equal(gn_conn_recv_end(b, &err), 0);
    assert_memory_equal(big, got, BIG);
    assert_int_equal(gn_conn_recv(b, &f, &p, &err), 0);
    assert_int_equal(f.type, GN_FRAME_BYE);
    assert_int_equal(f.request, 1001);
    int status;
    waitpid(kid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    gn_conn_destroy(a);
    assert_int_equal(gn_conn_recv(b, &f, &p, &err), 1); /* then a clean close */
    gn_conn_destroy(b);
    free(big);
    free(got);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_vectors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed_frames),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_fuzz_smoke),
        cmocka_unit_test(test_conn_pieces),
        cmocka_unit_test(test_conn_exact_pieces),
        cmocka_unit_test(test_conn_socketpair),
        cmocka_unit_test(test_conn_read_ahead),
        cmocka_unit_test(test_conn_send_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
