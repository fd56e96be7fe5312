/*
 * planwire.c — a plan as bytes (see planwire.h).  Little-endian:
 *
 *   u32 magic "GPLN", u32 version, u32 ndevices, u32 ntasks,
 *   str strategy;
 *   per device: i32 machine, u8 is_gpu, str name;
 *   per task:   u8 kind, u32 step, i32 device, i32 dst, i32 node,
 *               f64 bytes, f64 seconds, u32 nitems, nitems x (u32 step,
 *               u32 tensor), str label;
 *
 * where str is u16 length + bytes (no NUL).
 */
#include "planwire.h"

#include <stdlib.h>
#include <string.h>

#define MAX_STR 1024

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *p = realloc(w->p, cap);
        if (!p) {
            w->oom = 1;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

/* Integers go out little-endian whatever the host. */
static void put_u(wbuf *w, uint64_t v, int n)
{
    unsigned char b[8];
    for (int i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(w, b, (size_t)n);
}

static void put_f64(wbuf *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u(w, v, 8);
}

static void put_str(wbuf *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > MAX_STR)
        n = MAX_STR;
    put_u(w, n, 2);
    put(w, s, n);
}

int gn_planwire_encode(const gn_plan *p, unsigned char **out, size_t *len)
{
    wbuf w = {0};
    put_u(&w, GN_PLANWIRE_MAGIC, 4);
    put_u(&w, GN_PLANWIRE_VERSION, 4);
    put_u(&w, gn_plan_ndevices(p), 4);
    put_u(&w, gn_plan_ntasks(p), 4);
    put_str(&w, gn_plan_strategy(p));
    for (uint32_t d = 0; d < gn_plan_ndevices(p); d++) {
        const gn_device *dv = gn_plan_device(p, d);
        put_u(&w, (uint32_t)dv->machine, 4);
        put_u(&w, dv->is_gpu ? 1 : 0, 1);
        put_str(&w, dv->name);
    }
    for (uint32_t i = 0; i < gn_plan_ntasks(p); i++) {
        const gn_task *t = gn_plan_task(p, i);
        const gn_item *it = gn_plan_items(p, i);
        put_u(&w, (uint64_t)t->kind, 1);
        put_u(&w, t->step, 4);
        put_u(&w, (uint32_t)t->device, 4);
        put_u(&w, (uint32_t)t->dst, 4);
        put_u(&w, (uint32_t)t->node, 4);
        put_f64(&w, t->bytes);
        put_f64(&w, t->seconds);
        put_u(&w, t->nitems, 4);
        for (uint32_t k = 0; k < t->nitems; k++) {
            put_u(&w, it[k].step, 4);
            put_u(&w, it[k].tensor, 4);
        }
        put_str(&w, t->label);
    }
    if (w.oom) {
        free(w.p);
        return GN_ENOMEM;
    }
    *out = w.p;
    *len = w.len;
    return 0;
}

typedef struct rbuf {
    const unsigned char *p;
    size_t len, off;
    int bad;
} rbuf;

static uint64_t get_u(rbuf *r, int n)
{
    if (r->bad || r->len - r->off < (size_t)n) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += (size_t)n;
    return v;
}

static double get_f64(rbuf *r)
{
    uint64_t v = get_u(r, 8);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

/* Copies a str into BUF (NUL-terminated). */
static void get_str(rbuf *r, char *buf, size_t cap)
{
    size_t n = (size_t)get_u(r, 2);
    if (r->bad || n >= cap || r->len - r->off < n) {
        r->bad = 1;
        buf[0] = '\0';
        return;
    }
    memcpy(buf, r->p + r->off, n);
    buf[n] = '\0';
    r->off += n;
}

int gn_planwire_decode(const void *buf, size_t len, gn_plan **out, gn_error *err)
{
    rbuf r = {buf, len, 0, 0};
    char str[MAX_STR + 1];
    gn_item *items = NULL;
    *out = NULL;
    if (get_u(&r, 4) != GN_PLANWIRE_MAGIC || get_u(&r, 4) != GN_PLANWIRE_VERSION)
        return gn_error_set(err, GN_EPARSE, "plan: bad magic or version");
    uint32_t nd = (uint32_t)get_u(&r, 4), nt = (uint32_t)get_u(&r, 4);
    get_str(&r, str, sizeof(str));
    /* every device takes >= 7 bytes (machine, kind, name's length) and every
     * task >= 39 (kind, step, devices, node, bytes, seconds, item count,
     * label's length): counts beyond what the payload can hold are lies */
    if (r.bad || nd > len / 7 || nt > len / 39)
        return gn_error_set(err, GN_EPARSE, "plan: %u devices and %u tasks do not fit %zu bytes", nd, nt, len);
    gn_plan *p = gn_plan_create(str);
    if (!p)
        return gn_error_set(err, GN_ENOMEM, "plan: out of memory");
    int rc = 0;
    for (uint32_t d = 0; rc == 0 && d < nd; d++) {
        int32_t machine = (int32_t)(uint32_t)get_u(&r, 4);
        int gpu = (int)get_u(&r, 1);
        get_str(&r, str, sizeof(str));
        if (r.bad || gpu > 1 || machine < -1)
            rc = gn_error_set(err, GN_EPARSE, "plan: devices[%u]: truncated or out of range", d);
        else if (gn_plan_add_device(p, str, gpu, machine) < 0)
            rc = gn_error_set(err, GN_ENOMEM, "plan: out of memory");
    }
    for (uint32_t i = 0; rc == 0 && i < nt; i++) {
        int kind = (int)get_u(&r, 1);
        uint32_t step = (uint32_t)get_u(&r, 4);
        int32_t dev = (int32_t)(uint32_t)get_u(&r, 4), dst = (int32_t)(uint32_t)get_u(&r, 4);
        int32_t node = (int32_t)(uint32_t)get_u(&r, 4);
        double bytes = get_f64(&r), secs = get_f64(&r);
        uint32_t ni = (uint32_t)get_u(&r, 4);
        if (r.bad || ni > (r.len - r.off) / 8) {
            rc = gn_error_set(err, GN_EPARSE, "plan: tasks[%u]: truncated", i);
            break;
        }
        gn_item *grown = realloc(items, (ni ? ni : 1) * sizeof(*items));
        if (!grown) {
            rc = gn_error_set(err, GN_ENOMEM, "plan: out of memory");
            break;
        }
        items = grown;
        for (uint32_t k = 0; k < ni; k++) {
            items[k].step = (uint32_t)get_u(&r, 4);
            items[k].tensor = (uint32_t)get_u(&r, 4);
        }
        get_str(&r, str, sizeof(str));
        if (r.bad || !(bytes >= 0 && bytes < 1e15) || !(secs >= 0 && secs < 1e9) || kind > 1 ||
            (kind == GN_TASK_COMPUTE && ni > 0)) {
            rc = gn_error_set(err, GN_EPARSE, "plan: tasks[%u]: truncated or out of range", i);
            break;
        }
        int id = kind == GN_TASK_COMPUTE
                     ? gn_plan_add_compute(p, step, dev, -1, 0, secs, 0, bytes, node, str, NULL, 0)
                     : gn_plan_add_transfer(p, step, dev, dst, -1, 0, secs, bytes, str, NULL, 0);
        if (id < 0)
            rc = gn_error_set(err, GN_EPARSE, "plan: tasks[%u]: bad devices (%d, %d)", i, dev, dst);
        else if (ni > 0 && gn_plan_set_items(p, (uint32_t)id, items, ni) < 0)
            rc = gn_error_set(err, GN_ENOMEM, "plan: out of memory");
    }
    free(items);
    if (rc == 0 && r.off != r.len)
        rc = gn_error_set(err, GN_EPARSE, "plan: %zu bytes after the last task", r.len - r.off);
    if (rc < 0) {
        gn_plan_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}
