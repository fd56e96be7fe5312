/*
 * conn.c — whole frames over stream sockets (see conn.h).
 */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct gn_conn {
    int fd;              /* owned socket */
    size_t max_payload;  /* bytes */
    uint8_t *buf;        /* receive buffer for payloads */
    size_t cap;          /* its capacity, bytes */
};

gn_conn *gn_conn_create(int fd, size_t max_payload)
{
    gn_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fd = fd;
    c->max_payload = max_payload;
    return c;
}

void gn_conn_destroy(gn_conn *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

int gn_conn_fd(const gn_conn *c)
{
    return c->fd;
}

int gn_conn_send(gn_conn *c, uint16_t type, uint64_t session,
                 uint64_t request, const void *payload, size_t len,
                 gn_error *err)
{
    uint8_t hdr[GN_WIRE_HEADER];
    gn_frame f = {type, 0, session, request, len, 0};
    gn_wire_encode(hdr, &f, payload);
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};
    int n = len ? 2 : 1;
    size_t left = sizeof(hdr) + len;
    while (left > 0) {
        /* sendmsg, not writev: a peer that went away is EPIPE, not SIGPIPE */
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return gn_error_set(err, GN_EIO, "send %s: %s", gn_frame_name(type),
                                w < 0 ? strerror(errno) : "connection closed");
        left -= (size_t)w;
        /* advance the iovecs past what was written */
        size_t k = (size_t)w;
        for (int i = 0; i < n && k > 0; i++) {
            size_t take = k < iov[i].iov_len ? k : iov[i].iov_len;
            iov[i].iov_base = (uint8_t *)iov[i].iov_base + take;
            iov[i].iov_len -= take;
            k -= take;
        }
    }
    return 0;
}

/* Reads exactly LEN bytes; 0, 1 on EOF before any byte, or GN_EIO. */
static int read_full(int fd, void *p, size_t len, gn_error *err)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, (uint8_t *)p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && got == 0)
            return 1;
        if (r <= 0)
            return gn_error_set(err, GN_EIO, "receive: %s after %zu of %zu bytes",
                                r < 0 ? strerror(errno) : "connection closed", got, len);
        got += (size_t)r;
    }
    return 0;
}

int gn_conn_recv(gn_conn *c, gn_frame *f, const void **payload,
                 gn_error *err)
{
    uint8_t hdr[GN_WIRE_HEADER];
    int rc = read_full(c->fd, hdr, sizeof(hdr), err);
    if (rc != 0)
        return rc;
    gn_frame x;
    if ((rc = gn_wire_decode(hdr, c->max_payload, &x, err)) < 0)
        return rc;
    if (x.length > c->cap) {
        uint8_t *b = realloc(c->buf, (size_t)x.length);
        if (!b)
            return gn_error_set(err, GN_ENOMEM, "receive: no memory for a %llu-byte payload",
                                (unsigned long long)x.length);
        c->buf = b;
        c->cap = (size_t)x.length;
    }
    if (x.length && (rc = read_full(c->fd, c->buf, (size_t)x.length, err)) != 0)
        return rc == 1 ? gn_error_set(err, GN_EIO, "receive: connection closed inside a frame") : rc;
    if ((rc = gn_wire_verify(&x, c->buf, err)) < 0)
        return rc;
    *f = x;
    *payload = c->buf;
    return 0;
}

/* ========================== plan transfers over connections ========================== */

static gn_conn *link_conn(gn_conn_link *cl, int32_t machine, gn_error *err)
{
    uint32_t k = cl->is_client ? (uint32_t)machine : 0;
    if (cl->is_client && (machine < 0 || k >= cl->n))
        return gn_error_set(err, GN_EINVAL, "no connection to machine %d", machine), NULL;
    return cl->conns[k];
}

static int link_send(void *ctx, int32_t machine, uint32_t task, const struct iovec *iov, int niov, size_t len,
                     gn_error *err)
{
    gn_conn_link *cl = ctx;
    gn_conn *c = link_conn(cl, machine, err);
    if (!c)
        return GN_EINVAL;
    if (niov != 1 || iov[0].iov_len != len)
        return gn_error_set(err, GN_EINVAL, "one contiguous payload expected");
    return gn_conn_send(c, GN_FRAME_DATA, cl->session, task, iov[0].iov_base, len, err);
}

static int link_recv(void *ctx, int32_t machine, uint32_t task, const void **payload, size_t *len, gn_error *err)
{
    gn_conn_link *cl = ctx;
    gn_conn *c = link_conn(cl, machine, err);
    if (!c)
        return GN_EINVAL;
    gn_frame f;
    int rc = gn_conn_recv(c, &f, payload, err);
    if (rc == 1)
        return gn_error_set(err, GN_EIO, "machine %d closed the connection while task %u was due", machine, task);
    if (rc < 0)
        return rc;
    if (f.type == GN_FRAME_ERROR)
        return gn_error_set(err, GN_EIO, "machine %d failed: %.*s", machine, (int)(f.length < 400 ? f.length : 400),
                            (const char *)*payload);
    if (f.type != GN_FRAME_DATA || f.request != task)
        return gn_error_set(err, GN_EPARSE, "expected the data of task %u, got a %s frame (request %llu)", task,
                            gn_frame_name(f.type) ? gn_frame_name(f.type) : "?", (unsigned long long)f.request);
    *len = (size_t)f.length;
    return 0;
}

void gn_conn_link_init(gn_conn_link *cl, gn_conn **conns, uint32_t n, int is_client, uint64_t session)
{
    cl->conns = conns;
    cl->n = n;
    cl->is_client = is_client;
    cl->session = session;
    cl->link.ctx = cl;
    cl->link.send = link_send;
    cl->link.recv = link_recv;
}
