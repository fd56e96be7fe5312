/*
 * workload.c — workload families behind one entry point (see workload.h).
 */
#include "workload.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "llm.h"
#include "recsys.h"
#include "trace.h"
#include "vision.h"
#include "vqa.h"

gn_session *gn_workload_build(const json_t *obj, const char *file,
                              const char *path, char *label, size_t len,
                              gn_error *err)
{
    if (!json_is_object(obj)) {
        gn_error_set(err, GN_ESCHEMA, "%s: %s: expected an object", file, path);
        return NULL;
    }
    const char *family = json_string_value(json_object_get(obj, "family"));
    if (!family)
        family = "llm";
    if (strcmp(family, "llm") == 0) {
        gn_llm_config c;
        if (gn_llm_config_from_json(obj, file, path, &c, err) < 0)
            return NULL;
        snprintf(label, len, "%s", c.name);
        return gn_llm_generate(&c, err);
    }
    if (strcmp(family, "vision") == 0) {
        gn_vision_config c;
        if (gn_vision_config_from_json(obj, file, path, &c, err) < 0)
            return NULL;
        snprintf(label, len, "%s", c.name);
        return gn_vision_generate(&c, err);
    }
    if (strcmp(family, "recsys") == 0) {
        gn_recsys_config c;
        if (gn_recsys_config_from_json(obj, file, path, &c, err) < 0)
            return NULL;
        snprintf(label, len, "%s", c.name);
        return gn_recsys_generate(&c, err);
    }
    if (strcmp(family, "vqa") == 0) {
        gn_vqa_config c;
        if (gn_vqa_config_from_json(obj, file, path, &c, err) < 0)
            return NULL;
        snprintf(label, len, "%s", c.name);
        return gn_vqa_generate(&c, err);
    }
    if (strcmp(family, "trace") == 0) {
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)obj, key, val) {
            if (strcmp(key, "family") && strcmp(key, "path") && strcmp(key, "name")) {
                gn_error_set(err, GN_ESCHEMA, "%s: %s.%s: not a field of a trace workload (family, path, name: the "
                             "trace itself fixes the rest)", file, path, key);
                return NULL;
            }
            if (!json_is_string(val)) {
                gn_error_set(err, GN_ESCHEMA, "%s: %s.%s: expected a string", file, path, key);
                return NULL;
            }
        }
        const char *tp = json_string_value(json_object_get(obj, "path"));
        if (!tp) {
            gn_error_set(err, GN_ESCHEMA, "%s: %s.path: missing required field (a trace file)", file, path);
            return NULL;
        }
        char full[1024];
        const char *slash = strrchr(file, '/');
        if (tp[0] != '/' && slash)
            snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - file), file, tp);
        else
            snprintf(full, sizeof(full), "%s", tp);
        if (access(full, R_OK) != 0)
            snprintf(full, sizeof(full), "%s", tp);
        const char *name = json_string_value(json_object_get(obj, "name"));
        gn_session *s = gn_trace_load(full, err);
        if (s)
            snprintf(label, len, "%s", name ? name : gn_session_name(s));
        return s;
    }
    gn_error_set(err, GN_ESCHEMA, "%s: %s.family: unknown family \"%s\" (expected llm, vision, recsys, vqa or trace)", file, path, family);
    return NULL;
}

int gn__workload_key(const char *key, const json_t *val, const gn__field *fields,
                     size_t n, void *cfg, gn_dtype *dtype, const char *file,
                     const char *path, gn_error *err)
{
    if (strcmp(key, "model") == 0 || strcmp(key, "family") == 0 || strcmp(key, "name") == 0)
        return 1;
    if (strcmp(key, "dtype") == 0) {
        gn_dtype dt;
        if (!json_is_string(val) || gn_dtype_parse(json_string_value(val), &dt) < 0 ||
            (dt != GN_DTYPE_F32 && dt != GN_DTYPE_F16 && dt != GN_DTYPE_BF16))
            return gn_error_set(err, GN_ESCHEMA, "%s: %s.dtype: expected f32, f16 or bf16", file, path);
        *dtype = dt;
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(fields[i].key, key) != 0)
            continue;
        if (!json_is_integer(val) || json_integer_value(val) < fields[i].lo ||
            json_integer_value(val) > fields[i].hi)
            return gn_error_set(err, GN_ESCHEMA, "%s: %s.%s: expected an integer in [%u, %u]",
                                file, path, key, fields[i].lo, fields[i].hi);
        *(uint32_t *)((char *)cfg + fields[i].off) = (uint32_t)json_integer_value(val);
        return 1;
    }
    return 0;
}
