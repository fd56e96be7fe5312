/*
 * test_node.c — genie-node, the real process, under abuse.
 *
 * Starts the genie-node binary (GN_NODE) on a free loopback port and
 * talks to it over TCP: malformed, truncated, oversized and out-of-order
 * frames are answered with ERROR frames and the node keeps serving; a
 * client killed in the middle of a session leaves the node able to run a
 * full session with exact parity; and at the end the node exits cleanly
 * on SIGTERM.  Built with ASan (scripts/test's second build), a leak in
 * any of this makes the node's exit status non-zero and the test fail.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "executor.h"
#include "hello.h"
#include "outputs.h"
#include "runner.h"
#include "planwire.h"
#include "platform.h"
#include "strategy.h"
#include "trace.h"
#include "workload.h"

static pid_t node_pid;
static int node_port;

/* Starts $GN_NODE with FLAG VALUE added (none when NULL); sets node_pid
 * and node_port.  0 or -1. */
static int spawn_node(const char *flag, const char *value)
{
    const char *bin = getenv("GN_NODE");
    if (!bin)
        return -1;
    int out[2];
    if (pipe(out) < 0)
        return -1;
    node_pid = fork();
    if (node_pid == 0) {
        signal(SIGALRM, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        if (flag)
            execl(bin, "genie-node", "--port", "0", "--max-payload", "64", flag, value, "--quiet", (char *)NULL);
        else
            execl(bin, "genie-node", "--port", "0", "--max-payload", "64", "--quiet", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[256] = "", host[64];
    int ok = f && fgets(line, sizeof(line), f) &&
             sscanf(line, "genie-node: listening on %63[^:]:%d", host, &node_port) == 2;
    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

static int start_node(void **state)
{
    return spawn_node(NULL, NULL);
}

static int stop_node(void **state)
{
    int status;
    kill(node_pid, SIGTERM);
    if (waitpid(node_pid, &status, 0) != node_pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "genie-node did not exit cleanly (status %d)\n", status);
        return -1;
    }
    return 0;
}

static int dial_raw(void)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)node_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int dial(void)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)node_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* A header announcing LEN payload bytes that will never all come (its
 * checksum is of an empty payload: the node must refuse or wait first). */
static void header_of(uint8_t hdr[GN_WIRE_HEADER], uint16_t type, uint64_t len)
{
    gn_frame f = {type, 0, 0, 1, 0, 0};
    gn_wire_encode(hdr, &f, NULL);
    for (int i = 0; i < 8; i++)
        hdr[32 + i] = (uint8_t)(len >> (8 * i));
}

/* Receives one frame; returns its type (0 when the node closed). */
static int expect(gn_conn *c, char *text, size_t cap)
{
    gn_frame f;
    const void *pl;
    gn_error err;
    int rc = gn_conn_recv(c, &f, &pl, &err);
    if (rc != 0)
        return 0;
    if (text) {
        size_t n = f.length < cap - 1 ? (size_t)f.length : cap - 1;
        memcpy(text, pl, n);
        text[n] = '\0';
    }
    return f.type;
}

static gn_session *tiny(void)
{
    json_t *obj = json_pack("{s:s,s:s,s:i,s:i}", "family", "llm", "model", "tiny-gpt2", "prompt", 8, "decode", 2);
    char label[64];
    gn_error err;
    gn_session *s = gn_workload_build(obj, "test", "$", label, sizeof(label), &err);
    json_decref(obj);
    assert_non_null(s);
    return s;
}

static char *hello_text(const gn_session *s)
{
    json_t *trace = gn_trace_to_json(s);
    char *t = gn_hello_encode(0, 1, 7, 0.25, 0, trace);
    json_decref(trace);
    return t;
}

/* Frames the node cannot parse: an ERROR frame, then it closes that
 * connection only. */
static void test_malformed(void **state)
{
    gn_error err;
    char text[512];
    /* garbage instead of a header */
    gn_conn *c = gn_conn_create(dial(), 1 << 20);
    char junk[64];
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(write(gn_conn_fd(c), junk, sizeof(junk)), (ssize_t)sizeof(junk));
    assert_int_equal(expect(c, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "magic"));
    assert_int_equal(expect(c, NULL, 0), 0); /* closed */
    gn_conn_destroy(c);
    /* a corrupted checksum */
    c = gn_conn_create(dial(), 1 << 20);
    uint8_t hdr[GN_WIRE_HEADER];
    gn_frame f = {GN_FRAME_BYE, 0, 0, 1, 4, 0};
    gn_wire_encode(hdr, &f, "abcd");
    assert_int_equal(write(gn_conn_fd(c), hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    assert_int_equal(write(gn_conn_fd(c), "abce", 4), 4);
    assert_int_equal(expect(c, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "checksum"));
    gn_conn_destroy(c);
    /* oversized: the node was started with --max-payload 64 (MB) */
    c = gn_conn_create(dial(), 1 << 20);
    header_of(hdr, GN_FRAME_PLAN, (uint64_t)65 << 20);
    assert_int_equal(write(gn_conn_fd(c), hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    assert_int_equal(expect(c, text, sizeof(text)), GN_FRAME_ERROR);
    gn_conn_destroy(c);
    /* truncated: half a header, then gone */
    int fd = dial();
    assert_int_equal(write(fd, hdr, 10), 10);
    close(fd);
    (void)err;
}

/* Frames in the wrong order, or wrong content: ERROR, session goes on. */
static void test_out_of_order(void **state)
{
    gn_error err;
    char text[512];
    gn_conn *c = gn_conn_create(dial(), 1 << 20);
    assert_int_equal(gn_conn_send(c, GN_FRAME_RUN, 0, 1, NULL, 0, &err), 0);
    assert_int_equal(expect(c, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "run before plan"));
    assert_int_equal(gn_conn_send(c, GN_FRAME_PLAN, 0, 2, "xyz", 3, &err), 0);
    assert_int_equal(expect(c, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "plan before hello"));
    assert_int_equal(gn_conn_send(c, GN_FRAME_HELLO, 0, 3, "{\"machine\": 0}", 14, &err), 0);
    assert_int_equal(expect(c, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "hello"));
    /* a valid hello, then a plan that is not one */
    gn_session *s = tiny();
    char *h = hello_text(s);
    assert_int_equal(gn_conn_send(c, GN_FRAME_HELLO, 0, 4, h, strlen(h), &err), 0);
    assert_int_equal(expect(c, NULL, 0), GN_FRAME_HELLO);
    assert_int_equal(gn_conn_send(c, GN_FRAME_PLAN, 0, 5, "GPLNjunk", 8, &err), 0);
    assert_int_equal(expect(c, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "plan"));
    assert_int_equal(gn_conn_send(c, GN_FRAME_DATA, 0, 6, NULL, 0, &err), 0);
    assert_int_equal(expect(c, text, sizeof(text)), GN_FRAME_ERROR);
    assert_int_equal(gn_conn_send(c, GN_FRAME_BYE, 0, 7, NULL, 0, &err), 0);
    assert_int_equal(expect(c, NULL, 0), GN_FRAME_BYE);
    gn_conn_destroy(c);
    free(h);
    gn_session_destroy(s);
}

/* Opens a session with the blind plan of S; returns the connection. */
static gn_conn *open_session(const gn_session *s, const gn_plan *p)
{
    gn_error err;
    gn_conn *c = gn_conn_create(dial(), (size_t)1 << 30);
    char *h = hello_text(s);
    unsigned char *pw;
    size_t len;
    assert_int_equal(gn_planwire_encode(p, &pw, &len), 0);
    assert_int_equal(gn_conn_send(c, GN_FRAME_HELLO, 0, 1, h, strlen(h), &err), 0);
    assert_int_equal(expect(c, NULL, 0), GN_FRAME_HELLO);
    assert_int_equal(gn_conn_send(c, GN_FRAME_PLAN, 0, 2, pw, len, &err), 0);
    assert_int_equal(expect(c, NULL, 0), GN_FRAME_RESULT);
    free(h);
    free(pw);
    return c;
}

/* STRATEGY's plan of S on the default platform (the caller frees it). */
static gn_plan *plan_of(gn_session *s, const char *strategy)
{
    gn_platform pf;
    gn_platform_default(&pf);
    gn_plan_input in = {.session = s, .platform = &pf, .file = "test", .path = "$"};
    gn_plan *p;
    gn_error err;
    if (gn_strategy_plan(strategy, &in, &p, &err) < 0)
        fail_msg("%s: %s", strategy, err.msg);
    return p;
}

/* A client killed mid-run; then a whole session still runs exactly. */
static void test_killed_client_then_parity(void **state)
{
    gn_session *s = tiny();
    gn_plan *p = plan_of(s, "blind");
    gn_error err;
    for (int round = 0; round < 3; round++) {
        pid_t kid = fork();
        if (kid == 0) { /* the victim: starts the run, sends half a tensor, dies (no cmocka here) */
            signal(SIGSEGV, SIG_DFL);
            int fd = dial_raw();
            gn_conn *c = fd >= 0 ? gn_conn_create(fd, (size_t)1 << 30) : NULL;
            char *h = hello_text(s);
            unsigned char *pw;
            size_t len;
            gn_frame f;
            const void *pl;
            if (c && h && gn_planwire_encode(p, &pw, &len) == 0 &&
                gn_conn_send(c, GN_FRAME_HELLO, 0, 1, h, strlen(h), &err) == 0 && gn_conn_recv(c, &f, &pl, &err) == 0 &&
                gn_conn_send(c, GN_FRAME_PLAN, 0, 2, pw, len, &err) == 0 && gn_conn_recv(c, &f, &pl, &err) == 0 &&
                f.type == GN_FRAME_RESULT && gn_conn_send(c, GN_FRAME_RUN, 0, 3, NULL, 0, &err) == 0) {
                uint8_t hdr[GN_WIRE_HEADER];
                header_of(hdr, GN_FRAME_DATA, 1 << 20);
                ssize_t w = write(gn_conn_fd(c), hdr, sizeof(hdr));
                w = write(gn_conn_fd(c), hdr, sizeof(hdr)); /* a few payload bytes */
                (void)w;
                raise(SIGKILL);
            }
            _exit(3);
        }
        int status;
        assert_int_equal(waitpid(kid, &status, 0), kid);
        if (!WIFSIGNALED(status))
            fail_msg("the victim client could not start its session (exit %d)", WEXITSTATUS(status));
    }
    /* the node is fine: a full session, outputs equal the local reference */
    gn_outputs *ref = gn_outputs_create(s), *got = gn_outputs_create(s);
    assert_int_equal(gn_outputs_reference(gn_executor_cpu(), s, 7, 0.25f, ref, &err), 0);
    gn_conn *c = open_session(s, p);
    gn_runner *r = gn_runner_create_ex(gn_executor_cpu(), s, 7, 0.25f, GN_RUNNER_PARTIAL, &err);
    gn_conn_link cl;
    gn_conn_link_init(&cl, &c, 1, 1, 0);
    assert_int_equal(gn_conn_send(c, GN_FRAME_RUN, 0, 3, NULL, 0, &err), 0);
    if (gn_outputs_client_run(p, r, &cl.link, 7, got, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    char text[256];
    assert_int_equal(expect(c, text, sizeof(text)), GN_FRAME_RESULT);
    assert_non_null(strstr(text, "\"times\""));
    double rel;
    int same;
    assert_int_equal(gn_outputs_compare(got, ref, &rel, &same, &err), 0);
    assert_true(same);
    gn_runner_destroy(r);
    gn_conn_destroy(c);
    gn_outputs_destroy(ref);
    gn_outputs_destroy(got);
    gn_plan_destroy(p);
    gn_session_destroy(s);
}

/* A run that fails inside a DATA payload (a frame for a task the node does
 * not expect, sent as DATA + MORE frames) answers ERROR and leaves the
 * stream at a frame boundary: the rest of that payload is read and
 * dropped, and a new HELLO on the same connection starts over. */
static void test_failed_run_keeps_the_stream(void **state)
{
    gn_session *s = tiny();
    gn_plan *p = plan_of(s, "blind");
    gn_error err;
    char text[512];
    gn_conn *c = open_session(s, p);
    assert_int_equal(gn_conn_send(c, GN_FRAME_RUN, 0, 3, NULL, 0, &err), 0);
    size_t n = 2 * GN_CONN_PIECE + 1000;
    uint8_t *junk = calloc(1, n);
    assert_non_null(junk);
    struct iovec iov = {junk, n};
    assert_int_equal(gn_conn_sendv(c, GN_FRAME_DATA, 0, 999999, &iov, 1, &err), 0);
    free(junk);
    assert_int_equal(expect(c, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "run:"));
    char *h = hello_text(s);
    assert_int_equal(gn_conn_send(c, GN_FRAME_HELLO, 0, 4, h, strlen(h), &err), 0);
    int type = expect(c, text, sizeof(text));
    if (type != GN_FRAME_HELLO)
        fail_msg("after the failed run: a %s frame (%s)", type ? gn_frame_name((uint16_t)type) : "closed", text);
    assert_int_equal(gn_conn_send(c, GN_FRAME_BYE, 0, 5, NULL, 0, &err), 0);
    assert_int_equal(expect(c, NULL, 0), GN_FRAME_BYE);
    free(h);
    gn_conn_destroy(c);
    gn_plan_destroy(p);
    gn_session_destroy(s);
}

/* PING frames come back as they went, before HELLO and inside a session,
 * small and large (what calibration times the link with). */
static void echo_pings(gn_conn *c)
{
    static const size_t sizes[] = {0, 17, 600000};
    gn_error err;
    for (int i = 0; i < 3; i++) {
        unsigned char *buf = malloc(sizes[i] + 1);
        assert_non_null(buf);
        for (size_t k = 0; k < sizes[i]; k++)
            buf[k] = (unsigned char)(k * 131 + (size_t)i);
        assert_int_equal(gn_conn_send(c, GN_FRAME_PING, 0, 40 + (uint64_t)i, buf, sizes[i], &err), 0);
        gn_frame f;
        const void *pl;
        assert_int_equal(gn_conn_recv(c, &f, &pl, &err), 0);
        assert_int_equal(f.type, GN_FRAME_PING);
        assert_int_equal(f.request, 40 + i);
        assert_int_equal(f.length, sizes[i]);
        if (sizes[i])
            assert_memory_equal(pl, buf, sizes[i]);
        free(buf);
    }
}

static void test_ping(void **state)
{
    gn_conn *c = gn_conn_create(dial(), (size_t)1 << 30);
    echo_pings(c);
    gn_conn_destroy(c);
    gn_session *s = tiny();
    gn_plan *p = plan_of(s, "genie");
    c = open_session(s, p);
    echo_pings(c);
    gn_conn_destroy(c);
    gn_plan_destroy(p);
    gn_session_destroy(s);
}

/* The memory-cap test's session: big enough that whole MB of cap lie
 * between one session's bound and two. */
static gn_session *capped_session(void)
{
    json_t *obj = json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:i}", "family", "llm", "model", "tiny-gpt2", "prompt", 8,
                            "decode", 2, "layers", 2, "d_model", 256, "vocab", 4096);
    char label[64];
    gn_error err;
    gn_session *s = gn_workload_build(obj, "test", "$", label, sizeof(label), &err);
    json_decref(obj);
    return s;
}

static pid_t shared_pid;
static int shared_port;

/* Its own node, capped to one session's bound (rounded up to a MB), so
 * the cap meets no other test's sessions; teardown stops it even when the
 * test fails, then the shared node is back. */
static int start_capped_node(void **state)
{
    gn_session *s = capped_session();
    if (!s)
        return -1;
    uint64_t need = gn_runner_bound_bytes(s);
    gn_session_destroy(s);
    if (need <= (3u << 20))
        return -1;
    char mb[32];
    snprintf(mb, sizeof(mb), "%llu", (unsigned long long)((need >> 20) + 1));
    shared_pid = node_pid;
    shared_port = node_port;
    return spawn_node("--max-memory", mb);
}

static int stop_own_node(void **state)
{
    int rc = stop_node(state);
    node_pid = shared_pid;
    node_port = shared_port;
    return rc;
}

/* --max-memory: with room for one session's bound and not two, a second
 * HELLO is refused with an ERROR giving the sizes, the node goes on
 * serving, and the first session's reservation comes back when it ends
 * (the same HELLO is then accepted). */
static void test_memory_cap(void **state)
{
    gn_error err;
    gn_session *s = capped_session();
    assert_non_null(s);
    char *h = hello_text(s);
    char text[512];
    gn_conn *a = gn_conn_create(dial(), 1 << 20), *b = gn_conn_create(dial(), 1 << 20);
    assert_int_equal(gn_conn_send(a, GN_FRAME_HELLO, 0, 1, h, strlen(h), &err), 0);
    assert_int_equal(expect(a, NULL, 0), GN_FRAME_HELLO);
    assert_int_equal(gn_conn_send(b, GN_FRAME_HELLO, 0, 1, h, strlen(h), &err), 0);
    assert_int_equal(expect(b, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "--max-memory"));
    assert_non_null(strstr(text, "MB of tensors"));
    /* the refused session goes on: a PING still answers */
    assert_int_equal(gn_conn_send(b, GN_FRAME_PING, 0, 2, "x", 1, &err), 0);
    assert_int_equal(expect(b, NULL, 0), GN_FRAME_PING);
    assert_int_equal(gn_conn_send(a, GN_FRAME_BYE, 0, 3, NULL, 0, &err), 0);
    assert_int_equal(expect(a, NULL, 0), GN_FRAME_BYE);
    gn_conn_destroy(a);
    assert_int_equal(gn_conn_send(b, GN_FRAME_HELLO, 0, 4, h, strlen(h), &err), 0);
    assert_int_equal(expect(b, NULL, 0), GN_FRAME_HELLO);
    gn_conn_destroy(b);
    free(h);
    gn_session_destroy(s);
}

static int start_fresh_node(void **state)
{
    shared_pid = node_pid;
    shared_port = node_port;
    return spawn_node(NULL, NULL);
}

/* 64 sessions at once, each answering; the 65th client gets "node busy"
 * and is closed; when one client leaves, its slot serves a new one.  Its
 * own node: no other test's sessions hold slots. */
static void test_too_many_clients(void **state)
{
    enum { SLOTS = 64 };
    gn_conn *c[SLOTS];
    gn_error err;
    char text[256];
    for (int i = 0; i < SLOTS; i++) {
        c[i] = gn_conn_create(dial(), 1 << 20);
        assert_int_equal(gn_conn_send(c[i], GN_FRAME_PING, 0, (uint64_t)i, "x", 1, &err), 0);
        assert_int_equal(expect(c[i], NULL, 0), GN_FRAME_PING);
    }
    gn_conn *extra = gn_conn_create(dial(), 1 << 20);
    assert_int_equal(expect(extra, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "too many sessions"));
    assert_int_equal(expect(extra, NULL, 0), 0); /* closed */
    gn_conn_destroy(extra);
    gn_conn_destroy(c[0]);
    /* the slot frees once the node has seen the client go: retry briefly */
    int served = 0;
    for (int t = 0; t < 40 && !served; t++) {
        gn_conn *n = gn_conn_create(dial(), 1 << 20);
        gn_conn_send(n, GN_FRAME_PING, 0, 99, "x", 1, &err);
        served = expect(n, NULL, 0) == GN_FRAME_PING;
        gn_conn_destroy(n);
        if (!served)
            usleep(50000);
    }
    assert_true(served);
    for (int i = 1; i < SLOTS; i++)
        gn_conn_destroy(c[i]);
    (void)state;
}

static int start_impatient_node(void **state)
{
    shared_pid = node_pid;
    shared_port = node_port;
    return spawn_node("--idle-timeout", "1");
}

/* --idle-timeout 1: a client that sends nothing, or stops inside a frame,
 * gets an ERROR saying so and is dropped after about a second; one that
 * keeps talking (a PING every 0.4 s) is not; the node goes on serving.
 * (A client that stops reading meets the same timeout on the node's
 * sends: test_wire's test_conn_send_timeout; loopback TCP here absorbs
 * tens of MB before a sender blocks.) */
static void test_idle_timeout(void **state)
{
    gn_error err;
    char text[512];
    gn_conn *quiet = gn_conn_create(dial(), 1 << 20), *chatty = gn_conn_create(dial(), 1 << 20);
    int half = dial_raw();
    uint8_t hdr[GN_WIRE_HEADER];
    /* the test waits at most 5 s for the node's verdict (a node that
     * never times out fails the test instead of hanging it) */
    struct timeval tv = {5, 0};
    setsockopt(gn_conn_fd(quiet), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(half, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    header_of(hdr, GN_FRAME_HELLO, 100);
    assert_int_equal(write(half, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr)); /* then nothing of its payload */
    for (int i = 0; i < 5; i++) {
        usleep(400000);
        assert_int_equal(gn_conn_send(chatty, GN_FRAME_PING, 0, (uint64_t)i, "x", 1, &err), 0);
        assert_int_equal(expect(chatty, NULL, 0), GN_FRAME_PING);
    }
    assert_int_equal(expect(quiet, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "nothing came"));
    assert_int_equal(expect(quiet, NULL, 0), 0); /* then closed */
    gn_conn *h = gn_conn_create(half, 1 << 20);
    assert_int_equal(expect(h, text, sizeof(text)), GN_FRAME_ERROR);
    assert_non_null(strstr(text, "nothing came"));
    gn_conn_destroy(h);
    gn_conn_destroy(quiet);
    /* and the node goes on */
    assert_int_equal(gn_conn_send(chatty, GN_FRAME_PING, 0, 10, "x", 1, &err), 0);
    assert_int_equal(expect(chatty, NULL, 0), GN_FRAME_PING);
    gn_conn_destroy(chatty);
    (void)state;
}

int main(void)
{
    if (!getenv("GN_NODE")) {
        fprintf(stderr, "test_node: GN_NODE (the genie-node binary) is not set\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_failed_run_keeps_the_stream),
        cmocka_unit_test(test_killed_client_then_parity),
        cmocka_unit_test(test_ping),
        cmocka_unit_test_setup_teardown(test_memory_cap, start_capped_node, stop_own_node),
        cmocka_unit_test_setup_teardown(test_idle_timeout, start_impatient_node, stop_own_node),
        cmocka_unit_test_setup_teardown(test_too_many_clients, start_fresh_node, stop_own_node),
    };
    return cmocka_run_group_tests(tests, start_node, stop_node);
}
