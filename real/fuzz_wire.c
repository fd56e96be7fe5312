/*
 * fuzz_wire.c — fuzz target for the frame, tensor, plan and DATA
 * decoders.
 *
 * Built as a libFuzzer target where clang is available
 * (clang -fsanitize=fuzzer,address), and linked into tests/test_fuzz_smoke.c
 * everywhere, which replays deterministic mutations of valid frames under
 * ASan + UBSan in CI.  Whatever the input, decoding must either succeed
 * with consistent fields or fail with an error, never read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "planrun.h"
#include "planwire.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gn_frame f;
    gn_error err;
    if (size < GN_WIRE_HEADER)
        return 0;
    if (gn_wire_decode(data, 1 << 20, &f, &err) < 0)
        return 0;
    size_t avail = size - GN_WIRE_HEADER;
    if (f.length > avail)
        return 0; /* a real reader would wait for more bytes */
    const uint8_t *payload = data + GN_WIRE_HEADER;
    (void)gn_wire_verify(&f, payload, &err);
    if (f.type == GN_FRAME_TENSOR) {
        gn_wire_tensor t;
        if (gn_wire_tensor_decode(payload, (size_t)f.length, &t, &err) == 0) {
            /* the data must lie inside the payload */
            const uint8_t *d = t.data;
            if (d < payload || d + t.bytes > payload + f.length)
                __builtin_trap();
            volatile uint8_t sink = t.bytes ? d[t.bytes - 1] : 0;
            (void)sink;
        }
    }
    if (f.type == GN_FRAME_PLAN) {
        gn_plan *p = NULL;
        if (gn_planwire_decode(payload, (size_t)f.length, &p, &err) == 0) {
            /* a decoded plan is consistent: every task's items are readable */
            for (uint32_t i = 0; i < gn_plan_ntasks(p); i++) {
                const gn_item *it = gn_plan_items(p, i);
                for (uint32_t k = 0; k < gn_plan_task(p, i)->nitems; k++) {
                    volatile uint32_t sink = it[k].tensor;
                    (void)sink;
                }
            }
            gn_plan_destroy(p);
        } else if (p) {
            __builtin_trap(); /* a failed decode leaves no plan behind */
        }
    }
    if (f.type == GN_FRAME_DATA)
        (void)gn_planrun_payload_task(payload, (size_t)f.length);
    return 0;
}
