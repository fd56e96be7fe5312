/*
 * plugin.c — loading, checking and reloading pattern plugins (plugin.h).
 *
 * The self-test isolates the plugin in a forked child: a crash or a hang
 * there cannot take the analysing process down, which is what lets a
 * long sweep or a node keep running when someone drops a broken plugin
 * into the directory.
 */
#include "plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PLUGINS 64

typedef struct entry {
    char *path;                 /* owned */
    time_t mtime;               /* when it was examined */
    void *handle;               /* dlopen handle, NULL if rejected */
    const gn_pattern_ops *ops;  /* admitted table */
} entry;

struct gn_plugins {
    char *dir;                                  /* owned */
    entry e[MAX_PLUGINS];
    uint32_t n;
    const gn_pattern_ops *list[MAX_PLUGINS + 16]; /* built-ins + admitted, NULL-terminated */
    char *rejections[MAX_PLUGINS];
    uint32_t nrej;
};

/* ========================== self-test ========================== */

typedef struct check_ctx {
    uint32_t nnodes;
    int bad;
} check_ctx;

static void check_propose(void *vctx, uint32_t node, gn_role role, float conf,
                          const gn_pattern_ops *by)
{
    check_ctx *c = vctx;
    if (node >= c->nnodes || role < 0 || role >= GN_ROLE_COUNT || !(conf >= 0 && conf <= 1))
        c->bad = 1;
    (void)by;
}

/* A small session with an attention block, an MLP and a KV cache. */
static gn_session *reference_session(void)
{
    gn_session *s = gn_session_create("plugin self-test");
    gn_graph *g = s ? gn_session_add_step(s, GN_PHASE_PREFILL, "self-test") : NULL;
    if (!g)
        goto fail;
    const int64_t d[] = {1, 4, 8}, w[] = {8, 8}, h[] = {1, 2, 4, 4};
    int x = gn_graph_add_tensor(g, "x", GN_DTYPE_F32, GN_KIND_INPUT, 3, d, NULL);
    int wq = gn_graph_add_tensor(g, "wq", GN_DTYPE_F32, GN_KIND_PARAM, 2, w, "wq");
    int q = gn_graph_add_tensor(g, "q", GN_DTYPE_F32, GN_KIND_ACTIVATION, 3, d, NULL);
    int qh = gn_graph_add_tensor(g, "qh", GN_DTYPE_F32, GN_KIND_ACTIVATION, 4, h, NULL);
    int kv = gn_graph_add_tensor(g, "kv", GN_DTYPE_F32, GN_KIND_STATE, 4, h, "kv");
    int a = gn_graph_add_tensor(g, "a", GN_DTYPE_F32, GN_KIND_OUTPUT, 4, h, NULL);
    if (x < 0 || wq < 0 || q < 0 || qh < 0 || kv < 0 || a < 0)
        goto fail;
    uint32_t i1[] = {(uint32_t)x, (uint32_t)wq}, o1[] = {(uint32_t)q};
    uint32_t i2[] = {(uint32_t)q}, o2[] = {(uint32_t)qh, (uint32_t)kv};
    uint32_t i3[] = {(uint32_t)qh, (uint32_t)kv, (uint32_t)kv}, o3[] = {(uint32_t)a};
    if (gn_graph_add_node(g, GN_OP_MATMUL, i1, 2, o1, 1, 512, 512, NULL, NULL) < 0 ||
        gn_graph_add_node(g, GN_OP_VIEW, i2, 1, o2, 2, 0, 0, NULL, NULL) < 0 ||
        gn_graph_add_node(g, GN_OP_ATTENTION, i3, 3, o3, 1, 512, 512, NULL, NULL) < 0 ||
        gn_session_finalize(s, NULL) < 0)
        goto fail;
    return s;
fail:
    gn_session_destroy(s);
    return NULL;
}

/* Runs OPS->match on the reference session in a child.  0 or GN_EBACKEND. */
static int self_test(const gn_pattern_ops *ops, gn_error *err)
{
    gn_session *s = reference_session();
    if (!s)
        return gn_error_set(err, GN_ENOMEM, "self-test: out of memory");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        gn_session_destroy(s);
        return gn_error_set(err, GN_EBACKEND, "self-test: cannot fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* default dispositions: a crash must end this child, whatever
         * handlers the host process installed */
        const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGALRM};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            signal(sigs[i], SIG_DFL);
        alarm(GN_PLUGIN_SELFTEST_S);
        const gn_graph *g = gn_session_step(s, 0);
        check_ctx c = {gn_graph_nnodes(g), 0};
        gn_error e;
        int rc = ops->match(s, 0, g, check_propose, &c, &e);
        _exit(rc < 0 ? 3 : c.bad ? 4 : 0);
    }
    int status;
    waitpid(pid, &status, 0);
    gn_session_destroy(s);
    if (WIFSIGNALED(status))
        return gn_error_set(err, GN_EBACKEND, WTERMSIG(status) == SIGALRM
                                                  ? "self-test took longer than %d s" : "self-test crashed (signal %d)",
                            WTERMSIG(status) == SIGALRM ? GN_PLUGIN_SELFTEST_S : WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return gn_error_set(err, GN_EBACKEND, "self-test %s",
                            WEXITSTATUS(status) == 4 ? "proposed invalid annotations (node, role or confidence out of range)"
                            : WEXITSTATUS(status) == 3 ? "returned an error"
                                                       : "failed");
    return 0;
}

/* ========================== one plugin ========================== */

int gn_plugin_open(const char *path, const gn_pattern_ops **ops,
                   void **handle, gn_error *err)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return gn_error_set(err, GN_EINVAL, "%s: cannot load: %s", path, dlerror());
    const gn_pattern_ops *(*entry_fn)(void);
    *(void **)&entry_fn = dlsym(h, GN_PLUGIN_SYMBOL);
    const gn_pattern_ops *o = entry_fn ? entry_fn() : NULL;
    int rc = 0;
    gn_error sub;
    if (!entry_fn)
        rc = gn_error_set(err, GN_EINVAL, "%s: missing symbol %s", path, GN_PLUGIN_SYMBOL);
    else if (!o)
        rc = gn_error_set(err, GN_EINVAL, "%s: %s returned no pattern", path, GN_PLUGIN_SYMBOL);
    else if (o->version != GN_PATTERN_VERSION)
        rc = gn_error_set(err, GN_EINVAL, "%s: pattern interface version %d, this library speaks %d", path,
                          o->version, GN_PATTERN_VERSION);
    else if (!o->name || !o->match)
        rc = gn_error_set(err, GN_EINVAL, "%s: the pattern has no name or no match function", path);
    else if (self_test(o, &sub) < 0)
        rc = gn_error_set(err, GN_EINVAL, "%s: pattern %s: %s", path, o->name, sub.msg);
    if (rc < 0) {
        dlclose(h);
        return rc;
    }
    *ops = o;
    *handle = h;
    return 0;
}

void gn_plugin_close(void *handle)
{
    if (handle)
        dlclose(handle);
}

/* ========================== directory ========================== */

static void rebuild_list(gn_plugins *p)
{
    uint32_t k = 0;
    for (const gn_pattern_ops *const *b = gn_patterns_builtin(); *b; b++)
        p->list[k++] = *b;
    for (uint32_t i = 0; i < p->n; i++)
        if (p->e[i].ops)
            p->list[k++] = p->e[i].ops;
    p->list[k] = NULL;
}

static void clear_rejections(gn_plugins *p)
{
    for (uint32_t i = 0; i < p->nrej; i++)
        free(p->rejections[i]);
    p->nrej = 0;
}

static void drop(entry *e)
{
    gn_plugin_close(e->handle);
    free(e->path);
    memset(e, 0, sizeof(*e));
}

int gn_plugins_reload(gn_plugins *p, gn_error *err)
{
    DIR *d = opendir(p->dir);
    if (!d)
        return gn_error_set(err, GN_EIO, "%s: cannot read the plugin directory: %s", p->dir, strerror(errno));
    unsigned char seen[MAX_PLUGINS] = {0};
    int examined = 0;
    struct dirent *de;
    clear_rejections(p);
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        char path[1024];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", p->dir, de->d_name);
        if (stat(path, &st) < 0)
            continue;
        uint32_t i;
        for (i = 0; i < p->n; i++)
            if (p->e[i].path && strcmp(p->e[i].path, path) == 0)
                break;
        if (i < p->n && p->e[i].mtime == st.st_mtime) {
            seen[i] = 1;
            continue; /* unchanged */
        }
        if (i == p->n) {
            if (p->n == MAX_PLUGINS)
                continue;
            p->n++;
        } else {
            drop(&p->e[i]);
        }
        seen[i] = 1;
        examined++;
        p->e[i].path = strdup(path);
        p->e[i].mtime = st.st_mtime;
        gn_error why;
        if (gn_plugin_open(path, &p->e[i].ops, &p->e[i].handle, &why) < 0) {
            p->e[i].ops = NULL;
            p->e[i].handle = NULL;
            if (p->nrej < MAX_PLUGINS)
                p->rejections[p->nrej++] = strdup(why.msg);
        }
    }
    closedir(d);
    for (uint32_t i = 0; i < p->n; i++)
        if (!seen[i] && p->e[i].path)
            drop(&p->e[i]); /* removed from the directory */
    rebuild_list(p);
    return examined;
}

gn_plugins *gn_plugins_load(const char *dir, gn_error *err)
{
    gn_plugins *p = calloc(1, sizeof(*p));
    if (!p || !(p->dir = strdup(dir))) {
        free(p);
        gn_error_set(err, GN_ENOMEM, "plugins: out of memory");
        return NULL;
    }
    if (gn_plugins_reload(p, err) < 0) {
        gn_plugins_destroy(p);
        return NULL;
    }
    return p;
}

void gn_plugins_destroy(gn_plugins *p)
{
    if (!p)
        return;
    for (uint32_t i = 0; i < p->n; i++)
        drop(&p->e[i]);
    clear_rejections(p);
    free(p->dir);
    free(p);
}

const gn_pattern_ops *const *gn_plugins_patterns(gn_plugins *p)
{
    return p->list;
}

uint32_t gn_plugins_nloaded(const gn_plugins *p)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < p->n; i++)
        k += p->e[i].ops != NULL;
    return k;
}

uint32_t gn_plugins_nrejected(const gn_plugins *p)
{
    return p->nrej;
}

const char *gn_plugins_rejection(const gn_plugins *p, uint32_t i)
{
    return i < p->nrej ? p->rejections[i] : NULL;
}
