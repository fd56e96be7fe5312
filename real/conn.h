/*
 * conn.h — frames over a stream socket (TCP or UNIX): blocking send and
 * receive of whole frames, with the checks of wire.h applied on receipt.
 *
 * Used by genie-node and genie-real alike.  The receive buffer belongs to
 * the connection and grows to the largest payload seen (bounded by the
 * connection's limit), so a steady stream of frames allocates nothing.
 * Receiving reads ahead (up to 64 KiB): a stream of small frames (a
 * remote call per op) costs about one read() for all the frames that
 * have arrived, not two or three each; large pieces still go straight
 * into the caller's memory.
 */
#ifndef GN_CONN_H
#define GN_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "planrun.h"
#include "wire.h"

typedef struct gn_conn gn_conn;

/* Wraps connected socket FD (the connection owns it and closes it).
 * MAX_PAYLOAD bounds accepted frames.  NULL when out of memory. */
gn_conn *gn_conn_create(int fd, size_t max_payload);

/* Closes the socket and frees C; NULL is a no-op. */
void gn_conn_destroy(gn_conn *c);

/* The socket (borrowed), e.g. for shutdown().  Not for poll(): frames
 * already read ahead into the connection are not seen there. */
int gn_conn_fd(const gn_conn *c);

/*
 * Sends a frame of TYPE with PAYLOAD (LEN bytes; PAYLOAD may be NULL when
 * LEN is 0), session and request ids.  Returns 0 or GN_EIO with ERR (the
 * peer went away).  Uses writev: the payload is not copied.
 */
int gn_conn_send(gn_conn *c, uint16_t type, uint64_t session,
                 uint64_t request, const void *payload, size_t len,
                 gn_error *err);

/* Payloads above this go as a first frame and MORE frames of at most
 * this many bytes each (PROTOCOL.md), bytes. */
#define GN_CONN_PIECE ((size_t)1 << 18)

/* As gn_conn_send, the payload gathered from NIOV pieces (sendmsg: no
 * copy here), as frames of at most GN_CONN_PIECE payload bytes: the
 * first of TYPE, the rest MORE, each checksummed just before it goes
 * (its bytes still in cache for the kernel's copy). */
int gn_conn_sendv(gn_conn *c, uint16_t type, uint64_t session, uint64_t request, const struct iovec *iov,
                  int niov, gn_error *err);

/*
 * Receives a payload piece by piece, straight into the caller's memory:
 * begin reads and checks the first frame's header (as gn_conn_recv: 0, 1
 * on a clean close, or an error); read copies the next N payload bytes
 * into DST, going on into MORE frames of the same request as needed
 * (the caller knows the payload's size), checking each frame's checksum
 * as it ends; end checks that the last frame was read whole and its
 * checksum — a corrupted frame is still caught, after its bytes were
 * placed.
 */
int gn_conn_recv_begin(gn_conn *c, gn_frame *f, gn_error *err);
int gn_conn_recv_read(gn_conn *c, void *dst, size_t n, gn_error *err);
int gn_conn_recv_end(gn_conn *c, gn_error *err);

/*
 * Reads and drops what is left of the frame being received piece by piece
 * (nothing if it was read whole), checking its checksum, so the next
 * receive starts at a frame boundary; *REQUEST (when not NULL) gets that
 * frame's request id.  0, or an error as gn_conn_recv_read's.  MORE
 * frames of the same payload may still follow: the caller drops them.
 */
int gn_conn_recv_skip(gn_conn *c, uint64_t *request, gn_error *err);

/*
 * Receives one whole frame into *F; *PAYLOAD points into the
 * connection's buffer (borrowed, valid until the next receive).  Returns
 * 0; 1 when the peer closed cleanly between frames; GN_EIO (truncated
 * frame, reset), GN_EPARSE / GN_ERANGE (malformed, oversized, bad
 * checksum) with ERR.  After an error the stream is out of sync: answer
 * with an ERROR frame if possible and close.
 */
int gn_conn_recv(gn_conn *c, gn_frame *f, const void **payload,
                 gn_error *err);

/*
 * A plan's transfers over connections (planrun.h's gn_link): DATA frames
 * whose request id is the task id.  On the client, CONNS[k] reaches node
 * k; on a node, CONNS[0] reaches the client, which relays anything meant
 * for another node.  An ERROR frame where data was due fails the receive
 * with the peer's text.  CL borrows CONNS.
 */
typedef struct gn_conn_link {
    gn_conn **conns;
    uint32_t n;
    int is_client;
    uint64_t session;
    gn_conn *streaming; /* the connection a streamed receive is reading */
    gn_link link;       /* pass &cl->link to gn_planrun */
} gn_conn_link;

void gn_conn_link_init(gn_conn_link *cl, gn_conn **conns, uint32_t n, int is_client, uint64_t session);

#endif /* GN_CONN_H */
