/*
 * hello.c — the HELLO request (see hello.h).
 */
#include "hello.h"

#include "trace.h"

char *gn_hello_encode(int32_t machine, uint32_t nodes, uint64_t seed, double scale, int warm,
                      const json_t *trace)
{
    /* "O" takes a reference, so the caller's document stays its own */
    json_t *doc = json_pack("{s:i,s:I,s:I,s:f,s:b,s:O}", "machine", (int)machine, "nodes", (json_int_t)nodes,
                            "seed", (json_int_t)seed, "scale", scale, "warm", warm, "trace", trace);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

int gn_hello_decode(const void *payload, size_t len, gn_hello *h, gn_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(payload, len, 0, &jerr), *trace = NULL;
    json_int_t machine = -1, nodes = 0, seed = 0;
    double scale = 0;
    int warm = 0;
    if (!doc || json_unpack_ex(doc, &jerr, 0, "{s:I,s:I,s:I,s:F,s:b,s:o}", "machine", &machine, "nodes", &nodes,
                               "seed", &seed, "scale", &scale, "warm", &warm, "trace", &trace) < 0) {
        json_decref(doc);
        return gn_error_set(err, GN_EPARSE, "hello: %s", jerr.text);
    }
    if (machine < 0 || nodes < 1 || machine >= nodes || nodes > GN_HELLO_MAX_NODES ||
        !(scale >= 0 && scale <= GN_HELLO_MAX_SCALE)) {
        json_decref(doc);
        return gn_error_set(err, GN_EINVAL, "hello: machine %lld of %lld nodes, scale %g: out of range",
                            (long long)machine, (long long)nodes, scale);
    }
    gn_error terr;
    gn_session *s = gn_trace_from_json(trace, "hello.trace", &terr);
    json_decref(doc);
    if (!s)
        return gn_error_set(err, terr.code ? terr.code : GN_EPARSE, "hello: %s", terr.msg);
    *h = (gn_hello){(int32_t)machine, (uint32_t)nodes, (uint64_t)seed, scale, warm, s};
    return 0;
}
