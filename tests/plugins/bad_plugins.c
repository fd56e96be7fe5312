/*
 * bad_plugins.c — deliberately broken pattern plugins for test_plugin.c.
 * Compiled once per BAD_KIND:
 *   1 missing symbol, 2 wrong interface version, 3 crash in match,
 *   4 invalid annotation, 5 hangs in match.
 */
#include <stddef.h>

#include "semantic.h"

static int match(const gn_session *s, uint32_t st, const gn_graph *g,
                 gn_propose_fn propose, void *ctx, gn_error *err)
{
    (void)s, (void)st, (void)err;
#if BAD_KIND == 3
    volatile int *p = NULL;
    return *p;
#elif BAD_KIND == 4
    propose(ctx, gn_graph_nnodes(g) + 5, GN_ROLE_MLP, 2.0f, NULL);
    return 1;
#elif BAD_KIND == 5
    for (volatile int spin = 1; spin;)
        ;
    return 0;
#else
    (void)g, (void)propose, (void)ctx;
    return 0;
#endif
}

static const gn_pattern_ops ops = {BAD_KIND == 2 ? 99 : GN_PATTERN_VERSION, "bad", "broken on purpose", match};

#if BAD_KIND != 1
const gn_pattern_ops *gn_pattern_plugin(void);
const gn_pattern_ops *gn_pattern_plugin(void)
{
    return &ops;
}
#else
const gn_pattern_ops *something_else(void);
const gn_pattern_ops *something_else(void)
{
    return &ops;
}
#endif
