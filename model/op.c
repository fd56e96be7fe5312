/*
 * op.c — names and parsers of the trace vocabularies (see op.h).
 */
#include "op.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static const char *const op_names[] = {
#define X(id, name) name,
    GN_OP_MAP(X)
#undef X
};

static const char *const dtype_names[] = {
#define X(id, name, size) name,
    GN_DTYPE_MAP(X)
#undef X
};

static const size_t dtype_sizes[] = {
#define X(id, name, size) size,
    GN_DTYPE_MAP(X)
#undef X
};

static const char *const kind_names[] = {
#define X(id, name) name,
    GN_KIND_MAP(X)
#undef X
};

static const char *const phase_names[] = {
#define X(id, name) name,
    GN_PHASE_MAP(X)
#undef X
};

/* ========================== names ========================== */

const char *gn_op_name(gn_op op)
{
    assert(op >= 0 && op < GN_OP_COUNT);
    return op_names[op];
}

const char *gn_dtype_name(gn_dtype dt)
{
    assert(dt >= 0 && dt < GN_DTYPE_COUNT);
    return dtype_names[dt];
}

size_t gn_dtype_size(gn_dtype dt)
{
    assert(dt >= 0 && dt < GN_DTYPE_COUNT);
    return dtype_sizes[dt];
}

const char *gn_kind_name(gn_kind kind)
{
    assert(kind >= 0 && kind < GN_KIND_COUNT);
    return kind_names[kind];
}

const char *gn_phase_name(gn_phase phase)
{
    assert(phase >= 0 && phase < GN_PHASE_COUNT);
    return phase_names[phase];
}

/* ========================== parsers ========================== */

static int lookup(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int gn_op_parse(const char *name, gn_op *out)
{
    int i = lookup(op_names, GN_OP_COUNT, name);
    if (i < 0)
        return GN_ENOTFOUND;
    *out = (gn_op)i;
    return 0;
}

int gn_dtype_parse(const char *name, gn_dtype *out)
{
    int i = lookup(dtype_names, GN_DTYPE_COUNT, name);
    if (i < 0)
        return GN_ENOTFOUND;
    *out = (gn_dtype)i;
    return 0;
}

int gn_kind_parse(const char *name, gn_kind *out)
{
    int i = lookup(kind_names, GN_KIND_COUNT, name);
    if (i < 0)
        return GN_ENOTFOUND;
    *out = (gn_kind)i;
    return 0;
}

int gn_phase_parse(const char *name, gn_phase *out)
{
    int i = lookup(phase_names, GN_PHASE_COUNT, name);
    if (i < 0)
        return GN_ENOTFOUND;
    *out = (gn_phase)i;
    return 0;
}

const char *gn_op_list(char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (int i = 0; i < GN_OP_COUNT && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                         op_names[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}
