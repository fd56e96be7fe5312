/*
 * experiment.c — experiment files (see experiment.h).
 */
#include "experiment.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategy.h"

static char *read_file(const char *path, gn_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        gn_error_set(err, GN_EIO, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *b = realloc(buf, cap * 2);
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    fclose(f);
    if (!buf)
        gn_error_set(err, GN_ENOMEM, "%s: out of memory", path);
    else
        buf[n] = '\0';
    return buf;
}

void gn_experiment_destroy(gn_experiment *e)
{
    if (!e)
        return;
    free(e->file);
    free(e->text);
    free(e->strategies);
    json_decref(e->sweep_keys);
    json_decref(e->sweep_values);
    json_decref(e->doc);
    free(e);
}

static int parse_strategies(gn_experiment *e, gn_error *err)
{
    json_t *arr = json_object_get(e->doc, "strategies");
    if (!arr)
        arr = json_pack("[ssss]", "local", "remoting", "blind", "genie");
    else
        json_incref(arr);
    int rc = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        rc = gn_error_set(err, GN_ESCHEMA, "%s: $.strategies: expected a non-empty array", e->file);
        goto out;
    }
    e->nstrategies = (uint32_t)json_array_size(arr);
    e->strategies = calloc(e->nstrategies, sizeof(*e->strategies));
    if (!e->strategies) {
        rc = gn_error_set(err, GN_ENOMEM, "%s: out of memory", e->file);
        goto out;
    }
    for (uint32_t i = 0; i < e->nstrategies; i++) {
        json_t *s = json_array_get(arr, i);
        gn_exp_strategy *st = &e->strategies[i];
        const char *name = json_string_value(s), *label = NULL;
        snprintf(st->path, sizeof(st->path), "$.strategies[%u].options", i);
        if (json_is_object(s)) {
            name = json_string_value(json_object_get(s, "strategy"));
            label = json_string_value(json_object_get(s, "label"));
            st->options = json_object_get(s, "options");
        }
        if (!name || !gn_strategy_find(name)) {
            rc = gn_error_set(err, GN_ESCHEMA,
                              "%s: $.strategies[%u]: expected local, remoting, blind, genie, or {\"strategy\": NAME, \"label\": ..., \"options\": {...}}",
                              e->file, i);
            goto out;
        }
        snprintf(st->strategy, sizeof(st->strategy), "%s", name);
        snprintf(st->label, sizeof(st->label), "%s", label ? label : name);
    }
out:
    json_decref(arr);
    return rc;
}

static int parse_sweep(gn_experiment *e, gn_error *err)
{
    e->sweep_keys = json_array();
    e->sweep_values = json_array();
    if (!e->sweep_keys || !e->sweep_values)
        return gn_error_set(err, GN_ENOMEM, "%s: out of memory", e->file);
    json_t *sw = json_object_get(e->doc, "sweep");
    if (!sw)
        return 0;
    if (!json_is_object(sw))
        return gn_error_set(err, GN_ESCHEMA, "%s: $.sweep: expected an object {\"platform.key\": [values]}", e->file);
    const char *key;
    json_t *vals;
    json_object_foreach(sw, key, vals) {
        if (!json_is_array(vals) || json_array_size(vals) == 0)
            return gn_error_set(err, GN_ESCHEMA, "%s: $.sweep.%s: expected a non-empty array of values", e->file, key);
        if (!strchr(key, '.'))
            return gn_error_set(err, GN_ESCHEMA, "%s: $.sweep.%s: expected a platform key such as network.bandwidth_gbps",
                                e->file, key);
        json_array_append_new(e->sweep_keys, json_string(key));
        json_array_append(e->sweep_values, vals);
    }
    return 0;
}

gn_experiment *gn_experiment_load(const char *path, gn_error *err)
{
    gn_experiment *e = calloc(1, sizeof(*e));
    if (!e || !(e->file = strdup(path))) {
        free(e);
        gn_error_set(err, GN_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    json_error_t je;
    if (!(e->text = read_file(path, err)))
        goto fail;
    e->doc = json_loads(e->text, JSON_REJECT_DUPLICATES, &je);
    if (!e->doc) {
        gn_error_set(err, GN_EPARSE, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
        goto fail;
    }
    if (!json_is_object(e->doc)) {
        gn_error_set(err, GN_ESCHEMA, "%s: $: expected an object", path);
        goto fail;
    }
    e->name = json_string_value(json_object_get(e->doc, "name"));
    if (!e->name) {
        gn_error_set(err, GN_ESCHEMA, "%s: $.name: missing required field (a string)", path);
        goto fail;
    }
    e->workloads = json_object_get(e->doc, "workloads");
    if (!json_is_array(e->workloads) || json_array_size(e->workloads) == 0) {
        gn_error_set(err, GN_ESCHEMA, "%s: $.workloads: expected a non-empty array of workload objects", path);
        goto fail;
    }
    json_t *w = json_object_get(e->doc, "weights");
    e->weights_resident = 1;
    if (w) {
        const char *ws = json_string_value(w);
        if (!ws || (strcmp(ws, "resident") && strcmp(ws, "upload"))) {
            gn_error_set(err, GN_ESCHEMA, "%s: $.weights: expected \"resident\" or \"upload\"", path);
            goto fail;
        }
        e->weights_resident = strcmp(ws, "resident") == 0;
    }
    json_t *seed = json_object_get(e->doc, "seed");
    if (seed && (!json_is_integer(seed) || json_integer_value(seed) < 0)) {
        gn_error_set(err, GN_ESCHEMA, "%s: $.seed: expected an integer >= 0", path);
        goto fail;
    }
    e->seed = seed ? (uint64_t)json_integer_value(seed) : 1;
    if (parse_strategies(e, err) < 0 || parse_sweep(e, err) < 0)
        goto fail;
    /* every sweep point must give a valid platform */
    for (uint32_t i = 0; i < gn_experiment_npoints(e); i++) {
        gn_platform pf;
        char label[128];
        double x;
        if (gn_experiment_platform(e, i, &pf, label, sizeof(label), &x, err) < 0)
            goto fail;
    }
    return e;
fail:
    gn_experiment_destroy(e);
    return NULL;
}

uint32_t gn_experiment_npoints(const gn_experiment *e)
{
    uint32_t n = 1;
    for (size_t i = 0; i < json_array_size(e->sweep_values); i++)
        n *= (uint32_t)json_array_size(json_array_get(e->sweep_values, i));
    return n;
}

/* Sets the dotted KEY ("network.bandwidth_gbps") in OBJ to VALUE. */
static int set_dotted(json_t *obj, const char *key, json_t *value)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", key);
    char *part = buf, *dot;
    while ((dot = strchr(part, '.'))) {
        *dot = '\0';
        json_t *sub = json_object_get(obj, part);
        if (!sub) {
            sub = json_object();
            if (json_object_set_new(obj, part, sub) < 0)
                return GN_ENOMEM;
        }
        if (!json_is_object(sub))
            return GN_ESCHEMA;
        obj = sub;
        part = dot + 1;
    }
    return json_object_set(obj, part, value) < 0 ? GN_ENOMEM : 0;
}

int gn_experiment_platform(const gn_experiment *e, uint32_t i,
                           gn_platform *out, char *label, size_t len,
                           double *x, gn_error *err)
{
    json_t *base = json_object_get(e->doc, "platform");
    if (base && !json_is_object(base))
        return gn_error_set(err, GN_ESCHEMA, "%s: $.platform: expected an object", e->file);
    json_t *pf = base ? json_deep_copy(base) : json_object();
    if (!pf)
        return gn_error_set(err, GN_ENOMEM, "%s: out of memory", e->file);
    size_t used = 0;
    label[0] = '\0';
    *x = NAN;
    uint32_t rest = i;
    for (size_t a = 0; a < json_array_size(e->sweep_keys); a++) {
        json_t *vals = json_array_get(e->sweep_values, a);
        uint32_t n = (uint32_t)json_array_size(vals);
        json_t *v = json_array_get(vals, rest % n);
        rest /= n;
        const char *key = json_string_value(json_array_get(e->sweep_keys, a));
        if (set_dotted(pf, key, v) < 0) {
            json_decref(pf);
            return gn_error_set(err, GN_ESCHEMA, "%s: $.sweep.%s: cannot set this platform key", e->file, key);
        }
        if (a == 0 && json_is_number(v))
            *x = json_number_value(v);
        char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        used += (size_t)snprintf(label + used, used < len ? len - used : 0, "%s%s=%s",
                                 a ? " " : "", key, txt ? txt : "?");
        free(txt);
    }
    gn_platform_default(out);
    int rc = gn_platform_apply_json(out, pf, e->file, "$.platform", err);
    json_decref(pf);
    return rc;
}
