/*
 * test_plugin.c — pattern plugins: the example loads and recognises an
 * unknown architecture; each kind of broken plugin is rejected with its
 * reason while the others load; a directory is reloaded without restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin.h"
#include "trace.h"

static const char *dir(void)
{
    const char *d = getenv("GN_TEST_PLUGINS");
    return d ? d : "tests/plugins";
}

static char buf[1024];
static const char *data(const char *name)
{
    const char *d = getenv("GN_TEST_DATA");
    snprintf(buf, sizeof(buf), "%s/%s", d ? d : "tests/data", name);
    return buf;
}

static int has_rejection(const gn_plugins *p, const char *file, const char *why)
{
    for (uint32_t i = 0; i < gn_plugins_nrejected(p); i++) {
        const char *r = gn_plugins_rejection(p, i);
        if (strstr(r, file) && strstr(r, why))
            return 1;
    }
    return 0;
}

static void test_load_directory(void **state)
{
    gn_error err;
    gn_plugins *p = gn_plugins_load(dir(), &err);
    assert_non_null(p);
    assert_int_equal(gn_plugins_nloaded(p), 1); /* the example */
    assert_int_equal(gn_plugins_nrejected(p), 5);
    assert_true(has_rejection(p, "bad_missing.so", "missing symbol gn_pattern_plugin"));
    assert_true(has_rejection(p, "bad_version.so", "interface version 99"));
    assert_true(has_rejection(p, "bad_crash.so", "crashed"));
    assert_true(has_rejection(p, "bad_annotation.so", "invalid annotations"));
    assert_true(has_rejection(p, "bad_hang.so", "longer than"));

    /* the example recognises the Mamba-style trace's scans */
    gn_session *s = gn_trace_load(data("mamba_tiny.json"), &err);
    if (!s)
        fail_msg("%s", err.msg);
    gn_analysis *a = gn_analysis_run(s, gn_plugins_patterns(p), &err);
    assert_non_null(a);
    const gn_graph *g = gn_session_step(s, 0);
    int mixers = 0;
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++)
        if (gn_analysis_node(a, 0, id)->role == GN_ROLE_SEQUENCE_MIXER) {
            mixers++;
            assert_string_equal(gn_analysis_node(a, 0, id)->pattern, "ssm");
        }
    assert_true(mixers >= 2);
    gn_analysis_destroy(a);
    /* without the plugin the scans are low-confidence, and said so */
    a = gn_analysis_run(s, NULL, &err);
    assert_true(gn_analysis_low_confidence(a) > 0);
    assert_non_null(strstr(gn_analysis_warning(a, gn_analysis_nwarnings(a) - 1), "below 70% confidence"));
    gn_analysis_destroy(a);
    gn_session_destroy(s);
    gn_plugins_destroy(p);
    (void)state;
}

static void copy_file(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

/* Hot reload: a plugin dropped in later is admitted, a broken
 * replacement is rejected, a removed one disappears. */
static void test_reload(void **state)
{
    char tmp[] = "/tmp/gn_plugins_XXXXXX", src[1024], dst[1100];
    assert_non_null(mkdtemp(tmp));
    gn_error err;
    gn_plugins *p = gn_plugins_load(tmp, &err);
    assert_non_null(p);
    assert_int_equal(gn_plugins_nloaded(p), 0);
    snprintf(src, sizeof(src), "%s/example_ssm.so", dir());
    snprintf(dst, sizeof(dst), "%s/ssm.so", tmp);
    copy_file(src, dst);
    assert_int_equal(gn_plugins_reload(p, &err), 1);
    assert_int_equal(gn_plugins_nloaded(p), 1);
    assert_int_equal(gn_plugins_reload(p, &err), 0); /* unchanged: nothing re-examined */
    unlink(dst);
    gn_plugins_reload(p, &err);
    assert_int_equal(gn_plugins_nloaded(p), 0);
    gn_plugins_destroy(p);
    rmdir(tmp);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_directory),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
