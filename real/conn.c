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

/* Bytes read from the socket ahead of need: a frame header and a small
 * payload (a remote call's arguments) come in one read, with whatever
 * frames follow them, instead of a read each; reads this big or more
 * (tensors) go straight to their destination. */
#define RBUF ((size_t)64 << 10)

struct gn_conn {
    int fd;              /* owned socket */
    size_t max_payload;  /* bytes */
    uint8_t *buf;        /* receive buffer for payloads */
    size_t cap;          /* its capacity, bytes */
    uint8_t *rbuf;       /* read-ahead (RBUF bytes, allocated on first receive) */
    size_t rpos, rlen;   /* its unread bytes: rbuf[rpos..rlen) */
    gn_frame in;         /* streaming receive: the frame being read */
    uint64_t in_left;    /* its payload bytes not read yet */
    uint32_t in_crc;     /* running CRC32C */
    struct iovec *iov;   /* gathering send: header + pieces (grown, kept: no allocation per frame) */
    int capiov;
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
    free(c->rbuf);
    free(c->iov);
    free(c);
}

int gn_conn_fd(const gn_conn *c)
{
    return c->fd;
}

/* Sends one frame of TYPE whose payload is the N pieces V[1..N] (V[0] is
 * filled with the header here); V is modified. */
static int send_frame(gn_conn *c, uint16_t type, uint64_t session, uint64_t request, struct iovec *v, int n,
                      gn_error *err)
{
    size_t len = 0;
    for (int i = 1; i <= n; i++)
        len += v[i].iov_len;
    gn_frame f = {type, 0, session, request, len, 0};
    uint32_t crc = gn_wire_crc_header(&f);
    for (int i = 1; i <= n; i++)
        crc = gn_crc32c(crc, v[i].iov_base, v[i].iov_len);
    f.crc = crc;
    uint8_t hdr[GN_WIRE_HEADER];
    gn_wire_write_header(hdr, &f);
    v[0] = (struct iovec){hdr, sizeof(hdr)};
    int total = n + 1, at = 0;
    while (at < total) { /* sendmsg, not writev: a peer that went away is EPIPE, not SIGPIPE */
        struct msghdr mh = {.msg_iov = v + at, .msg_iovlen = (size_t)(total - at < 1024 ? total - at : 1024)};
        ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) /* SO_SNDTIMEO */
            return gn_error_set(err, GN_EIO, "send %s: the peer took nothing for the connection's timeout",
                                gn_frame_name(type));
        if (w <= 0)
            return gn_error_set(err, GN_EIO, "send %s: %s", gn_frame_name(type),
                                w < 0 ? strerror(errno) : "connection closed");
        size_t k = (size_t)w;
        while (at < total && k >= v[at].iov_len)
            k -= v[at++].iov_len;
        if (at < total) {
            v[at].iov_base = (uint8_t *)v[at].iov_base + k;
            v[at].iov_len -= k;
        }
    }
    return 0;
}

int gn_conn_sendv(gn_conn *c, uint16_t type, uint64_t session, uint64_t request, const struct iovec *iov,
                  int niov, gn_error *err)
{
    /* at most niov + (pieces a split adds) + header; grown, kept */
    size_t total = 0;
    for (int i = 0; i < niov; i++)
        total += iov[i].iov_len;
    int need = niov + (int)(total / GN_CONN_PIECE) + 3;
    if (need > c->capiov) {
        struct iovec *g = realloc(c->iov, (size_t)need * sizeof(*g));
        if (!g)
            return gn_error_set(err, GN_ENOMEM, "send: out of memory");
        c->iov = g;
        c->capiov = need;
    }
    /* frames of at most GN_CONN_PIECE payload bytes: each checksummed just
     * before it goes, while its bytes are in cache for the kernel's copy */
    int i = 0, rc = 0, first = 1;
    size_t off = 0; /* into iov[i] */
    do {
        int n = 0;
        size_t len = 0;
        while (i < niov && len < GN_CONN_PIECE) {
            size_t take = iov[i].iov_len - off;
            if (take > GN_CONN_PIECE - len)
                take = GN_CONN_PIECE - len;
            if (take > 0)
                c->iov[1 + n++] = (struct iovec){(uint8_t *)iov[i].iov_base + off, take};
            len += take;
            off += take;
            if (off == iov[i].iov_len) {
                i++;
                off = 0;
            }
        }
        /* empty pieces left at the end (a payload that fills its last frame
         * exactly) make no frame of their own: the receiver expects none */
        while (i < niov && iov[i].iov_len == off) {
            i++;
            off = 0;
        }
        rc = send_frame(c, first ? type : GN_FRAME_MORE, session, request, c->iov, n, err);
        first = 0;
    } while (rc == 0 && i < niov);
    return rc;
}

int gn_conn_send(gn_conn *c, uint16_t type, uint64_t session,
                 uint64_t request, const void *payload, size_t len,
                 gn_error *err)
{
    /* one frame, whatever its size (v[0] is the header's slot) */
    struct iovec v[2] = {{NULL, 0}, {(void *)payload, len}};
    return send_frame(c, type, session, request, v, len ? 1 : 0, err);
}

/* Reads exactly LEN bytes into P: first what was read ahead, then from
 * the socket (through the read-ahead buffer when less than RBUF is
 * missing, else straight into P).  0, 1 on EOF before any byte, or GN_EIO. */
static int read_full(gn_conn *c, void *p, size_t len, gn_error *err)
{
    size_t got = c->rlen - c->rpos;
    if (got > len)
        got = len;
    if (got) {
        memcpy(p, c->rbuf + c->rpos, got);
        c->rpos += got;
    }
    if (got < len && !c->rbuf)
        c->rbuf = malloc(RBUF); /* NULL: every read goes straight to P */
    while (got < len) {
        size_t want = len - got;
        int ahead = want < RBUF && c->rbuf;
        ssize_t r = ahead ? read(c->fd, c->rbuf, RBUF) : read(c->fd, (uint8_t *)p + got, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && got == 0)
            return 1;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) /* SO_RCVTIMEO */
            return gn_error_set(err, GN_EIO, "receive: nothing came for the connection's timeout (%zu of %zu "
                                "bytes)", got, len);
        if (r <= 0)
            return gn_error_set(err, GN_EIO, "receive: %s after %zu of %zu bytes",
                                r < 0 ? strerror(errno) : "connection closed", got, len);
        size_t k = (size_t)r;
        if (ahead) {
            c->rlen = k;
            if (k > want)
                k = want;
            memcpy((uint8_t *)p + got, c->rbuf, k);
            c->rpos = k;
        }
        got += k;
    }
    return 0;
}

int gn_conn_recv_begin(gn_conn *c, gn_frame *f, gn_error *err)
{
    uint8_t hdr[GN_WIRE_HEADER];
    int rc = read_full(c, hdr, sizeof(hdr), err);
    if (rc != 0)
        return rc;
    gn_frame x;
    if ((rc = gn_wire_decode(hdr, c->max_payload, &x, err)) < 0)
        return rc;
    c->in = x;
    c->in_left = x.length;
    c->in_crc = gn_wire_crc_header(&x);
    *f = x;
    return 0;
}

/* The frame being read is done: its checksum. */
static int frame_done(gn_conn *c, gn_error *err)
{
    if (c->in_crc != c->in.crc)
        return gn_error_set(err, GN_EPARSE, "frame: %s request %llu: checksum 0x%08x, computed 0x%08x (corrupted)",
                            gn_frame_name(c->in.type), (unsigned long long)c->in.request, c->in.crc, c->in_crc);
    return 0;
}

int gn_conn_recv_read(gn_conn *c, void *dst, size_t n, gn_error *err)
{
    /* in pieces, each checksummed while it is still in cache (and while
     * the sender goes on sending); across MORE frames of the payload */
    for (size_t off = 0; off < n;) {
        if (c->in_left == 0) {
            uint8_t hdr[GN_WIRE_HEADER];
            gn_frame x;
            int rc = frame_done(c, err);
            if (rc == 0 && (rc = read_full(c, hdr, sizeof(hdr), err)) == 1)
                rc = gn_error_set(err, GN_EIO, "receive: connection closed inside a payload");
            if (rc == 0)
                rc = gn_wire_decode(hdr, c->max_payload, &x, err);
            if (rc == 0 && (x.type != GN_FRAME_MORE || x.request != c->in.request || x.length == 0))
                rc = gn_error_set(err, GN_EPARSE, "receive: expected the rest of %s request %llu, got a %s frame",
                                  gn_frame_name(c->in.type), (unsigned long long)c->in.request,
                                  gn_frame_name(x.type) ? gn_frame_name(x.type) : "?");
            if (rc < 0)
                return rc;
            c->in = x;
            c->in_left = x.length;
            c->in_crc = gn_wire_crc_header(&x);
        }
        size_t piece = n - off;
        if (piece > GN_CONN_PIECE)
            piece = GN_CONN_PIECE;
        if (piece > c->in_left)
            piece = (size_t)c->in_left;
        int rc = read_full(c, (uint8_t *)dst + off, piece, err);
        if (rc != 0)
            return rc == 1 ? gn_error_set(err, GN_EIO, "receive: connection closed inside a frame") : rc;
        c->in_crc = gn_crc32c(c->in_crc, (uint8_t *)dst + off, piece);
        c->in_left -= piece;
        off += piece;
    }
    return 0;
}

int gn_conn_recv_end(gn_conn *c, gn_error *err)
{
    if (c->in_left)
        return gn_error_set(err, GN_EPARSE, "receive: %llu payload bytes not read", (unsigned long long)c->in_left);
    return frame_done(c, err);
}

int gn_conn_recv_skip(gn_conn *c, uint64_t *request, gn_error *err)
{
    if (request)
        *request = c->in.request;
    uint8_t junk[4096];
    while (c->in_left) {
        size_t piece = c->in_left < sizeof(junk) ? (size_t)c->in_left : sizeof(junk);
        int rc = read_full(c, junk, piece, err);
        if (rc != 0)
            return rc == 1 ? gn_error_set(err, GN_EIO, "receive: connection closed inside a frame") : rc;
        c->in_crc = gn_crc32c(c->in_crc, junk, piece);
        c->in_left -= piece;
    }
    return frame_done(c, err);
}

int gn_conn_recv(gn_conn *c, gn_frame *f, const void **payload,
                 gn_error *err)
{
    gn_frame x;
    int rc = gn_conn_recv_begin(c, &x, err);
    if (rc != 0)
        return rc;
    if (x.length > c->cap) {
        uint8_t *b = realloc(c->buf, (size_t)x.length);
        if (!b)
            return gn_error_set(err, GN_ENOMEM, "receive: no memory for a %llu-byte payload",
                                (unsigned long long)x.length);
        c->buf = b;
        c->cap = (size_t)x.length;
    }
    /* exactly this frame's payload: the streaming read does not go on
     * into a MORE frame for it */
    if ((rc = gn_conn_recv_read(c, c->buf, (size_t)x.length, err)) < 0 || (rc = gn_conn_recv_end(c, err)) < 0)
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
    (void)len;
    return gn_conn_sendv(c, GN_FRAME_DATA, cl->session, task, iov, niov, err);
}

static int link_recv_begin(void *ctx, int32_t machine, uint32_t task, size_t *len, gn_error *err)
{
    gn_conn_link *cl = ctx;
    gn_conn *c = link_conn(cl, machine, err);
    if (!c)
        return GN_EINVAL;
    gn_frame f = {0};
    int rc = gn_conn_recv_begin(c, &f, err);
    if (rc == 1)
        return gn_error_set(err, GN_EIO, "machine %d closed the connection while task %u was due", machine, task);
    if (rc < 0)
        return rc;
    if (f.type == GN_FRAME_ERROR) {
        char text[400];
        size_t n = f.length < sizeof(text) - 1 ? (size_t)f.length : sizeof(text) - 1;
        if (gn_conn_recv_read(c, text, n, err) < 0 || gn_conn_recv_skip(c, NULL, err) < 0)
            return GN_EIO;
        text[n] = '\0';
        return gn_error_set(err, GN_EIO, "machine %d failed: %s", machine, text);
    }
    if (f.type != GN_FRAME_DATA || f.request != task)
        return gn_error_set(err, GN_EPARSE, "expected the data of task %u, got a %s frame (request %llu)", task,
                            gn_frame_name(f.type) ? gn_frame_name(f.type) : "?", (unsigned long long)f.request);
    cl->streaming = c;
    *len = (size_t)f.length;
    return 0;
}

static int link_recv_read(void *ctx, void *dst, size_t n, gn_error *err)
{
    gn_conn_link *cl = ctx;
    return gn_conn_recv_read(cl->streaming, dst, n, err);
}

static int link_recv_end(void *ctx, gn_error *err)
{
    gn_conn_link *cl = ctx;
    return gn_conn_recv_end(cl->streaming, err);
}

void gn_conn_link_init(gn_conn_link *cl, gn_conn **conns, uint32_t n, int is_client, uint64_t session)
{
    cl->streaming = NULL;
    cl->link.recv_begin = link_recv_begin;
    cl->link.recv_read = link_recv_read;
    cl->link.recv_end = link_recv_end;
    cl->conns = conns;
    cl->n = n;
    cl->is_client = is_client;
    cl->session = session;
    cl->link.ctx = cl;
    cl->link.send = link_send;
}
