/*
 * plugin.h — external semantic patterns loaded from shared objects.
 *
 * A plugin is a shared object exporting
 *
 *     const gn_pattern_ops *gn_pattern_plugin(void);
 *
 * returning the same table the built-in patterns use (semantic.h).  A
 * plugin is admitted only if the symbol exists, the table's version is
 * one this library speaks, its name and match function are set, and its
 * self-test passes: its match runs on a small reference session in a
 * forked child, which must exit cleanly within a time limit and propose
 * only valid annotations.  A rejected plugin is reported with its reason
 * and the rest load.  gn_plugins_reload() picks up new, changed or
 * removed files (by modification time) without restarting the process.
 */
#ifndef GN_PLUGIN_H
#define GN_PLUGIN_H

#include "error.h"
#include "semantic.h"

#define GN_PLUGIN_SYMBOL "gn_pattern_plugin"
#define GN_PLUGIN_SELFTEST_S 2 /* seconds a self-test may take */

typedef struct gn_plugins gn_plugins;

/* Scans DIR for *.so and admits what passes (see above).  Returns a new
 * set (caller owns; gn_plugins_destroy) or NULL with ERR when DIR cannot
 * be read.  Rejections are not errors: see gn_plugins_nrejected. */
gn_plugins *gn_plugins_load(const char *dir, gn_error *err);

/* Closes every plugin and frees P; NULL is a no-op. */
void gn_plugins_destroy(gn_plugins *p);

/* Rescans the directory: loads new or changed files, drops removed ones.
 * Returns the number of files (re)examined, or a negative code. */
int gn_plugins_reload(gn_plugins *p, gn_error *err);

/*
 * The admitted patterns after the built-ins, NULL-terminated (borrowed,
 * valid until the next reload or destroy), for gn_analysis_run.
 */
const gn_pattern_ops *const *gn_plugins_patterns(gn_plugins *p);

/* Admitted plugins, and rejected ones with one-line reasons. */
uint32_t gn_plugins_nloaded(const gn_plugins *p);
uint32_t gn_plugins_nrejected(const gn_plugins *p);
const char *gn_plugins_rejection(const gn_plugins *p, uint32_t i);

/*
 * Checks one plugin file without admitting it: the same checks as
 * gn_plugins_load.  Returns 0 and sets *OPS (valid while the returned
 * HANDLE is open; close it with gn_plugin_close), or a negative code
 * with ERR giving the reason.
 */
int gn_plugin_open(const char *path, const gn_pattern_ops **ops,
                   void **handle, gn_error *err);
void gn_plugin_close(void *handle);

#endif /* GN_PLUGIN_H */
