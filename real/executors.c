/*
 * executors.c — executors by name (issue 4).
 *
 * Programs choose an executor with a flag (`--exec cpu`, `--exec cuda`);
 * this is the one place that maps those names to ops tables, so a new
 * executor is added here once and every program learns its name.  Which
 * executors exist is fixed at build time (the CUDA one only where the
 * toolkit was found, GN_HAVE_CUDA); whether a CUDA device is present is
 * only known when the executor's create runs.
 */
#include "executor.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef GN_HAVE_CUDA
#include "exec_cuda_int.h"
#endif

const gn_executor_ops *gn_executor_find(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "cpu") == 0)
        return gn_executor_cpu();
#ifdef GN_HAVE_CUDA
    if (strcmp(name, "cuda") == 0)
        return gn__executor_cuda();
#endif
    return NULL;
}

void gn_executor_malloc_env(void)
{
#ifdef __GLIBC__
    const char *keep = getenv("GN_MALLOC_DEFAULT");
    if (keep && *keep && strcmp(keep, "0") != 0)
        return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    mallopt(M_ARENA_MAX, 1); /* one heap, which malloc_trim can shrink (a thread's arena it cannot) */
#endif
}

void gn_executor_malloc_release(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void gn_executor_blas_env(char **argv)
{
    if (getenv("OPENBLAS_NUM_THREADS"))
        return;
    const char *n = getenv("GN_CPU_THREADS");
    if (setenv("OPENBLAS_NUM_THREADS", n && atoi(n) >= 1 ? n : "1", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
}
