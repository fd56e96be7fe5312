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
        ssize_t w = writev(c->fd, iov, n);
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
