/*
 * fuzz_wire.c — fuzz target for what a client can send a genie-node: a
 * stream of frames, each decoded as the node decodes it (header,
 * checksum, then the payload of its type: a HELLO's JSON and trace and
 * the memory its session would reserve, a plan, checked against the
 * session the last good HELLO opened, a tensor, a DATA frame's task).
 * Executing plans is left out: what decoding lets through is what this
 * checks.
 *
 * Built as a libFuzzer target with clang (cmake -DGENIE_FUZZ=ON; see
 * scripts/fuzz, which also records real sessions as the seed corpus),
 * and linked into tests/test_wire.c everywhere, whose smoke test replays
 * deterministic mutations of valid frames under ASan + UBSan in CI.
 * Whatever the input, decoding must either succeed with consistent fields
 * or fail with an error, never read out of bounds or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hello.h"
#include "planrun.h"
#include "planwire.h"
#include "runner.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One frame's payload, as the node's session loop would take it. */
static void payload(const gn_frame *f, const uint8_t *p, gn_hello *h)
{
    gn_error err;
    if (f->type == GN_FRAME_HELLO) {
        gn_hello nh;
        if (gn_hello_decode(p, (size_t)f->length, &nh, &err) == 0) {
            if (!nh.s || nh.machine < 0 || nh.machine >= (int32_t)nh.nodes)
                __builtin_trap(); /* a good HELLO is consistent */
            (void)gn_runner_bound_bytes(nh.s); /* what the node reserves for it */
            gn_session_destroy(h->s);
            *h = nh;
        }
    }
    if (f->type == GN_FRAME_TENSOR) {
        gn_wire_tensor t;
        if (gn_wire_tensor_decode(p, (size_t)f->length, &t, &err) == 0) {
            /* the data must lie inside the payload */
            const uint8_t *d = t.data;
            if (d < p || d + t.bytes > p + f->length)
                __builtin_trap();
            volatile uint8_t sink = t.bytes ? d[t.bytes - 1] : 0;
            (void)sink;
        }
    }
    if (f->type == GN_FRAME_PLAN) {
        gn_plan *pl = NULL;
        if (gn_planwire_decode(p, (size_t)f->length, &pl, &err) == 0) {
            /* a decoded plan is consistent: every task's items are readable */
            for (uint32_t i = 0; i < gn_plan_ntasks(pl); i++) {
                const gn_item *it = gn_plan_items(pl, i);
                for (uint32_t k = 0; k < gn_plan_task(pl, i)->nitems; k++) {
                    volatile uint32_t sink = it[k].tensor;
                    (void)sink;
                }
            }
            /* what the node checks before it keeps a plan */
            if (h->s)
                (void)gn_planrun_check(pl, h->s, h->nodes, &err);
            gn_plan_destroy(pl);
        } else if (pl) {
            __builtin_trap(); /* a failed decode leaves no plan behind */
        }
    }
    if (f->type == GN_FRAME_DATA || f->type == GN_FRAME_MORE)
        (void)gn_planrun_payload_task(p, (size_t)f->length);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gn_hello h = {0};
    while (size >= GN_WIRE_HEADER) {
        gn_frame f;
        gn_error err;
        if (gn_wire_decode(data, 1 << 20, &f, &err) < 0)
            break; /* the node closes the connection */
        size_t avail = size - GN_WIRE_HEADER;
        if (f.length > avail)
            break; /* a real reader would wait for more bytes */
        const uint8_t *p = data + GN_WIRE_HEADER;
        /* the node refuses a frame whose checksum fails; decoding it
         * anyway lets mutations reach the payload decoders */
        (void)gn_wire_verify(&f, p, &err);
        payload(&f, p, &h);
        data = p + f.length;
        size = avail - (size_t)f.length;
    }
    gn_session_destroy(h.s);
    return 0;
}
