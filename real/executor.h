/*
 * executor.h — executors run graph ops on real tensors (issue 4).
 *
 * An executor is a versioned ops table (like a SQLite VFS; only ever grows
 * at the end): the CPU executor (real/exec_cpu.c) is the reference and also
 * what the client runs locally for parity checks; a CUDA executor
 * implements the same table where the toolkit is found.  The executor
 * interprets each node from the trace alone: its op, attrs and the shapes
 * and dtypes of its tensors (traces/SCHEMA.md; the exact layouts are those
 * workloads/ emits and real/EXECUTOR.md documents).
 *
 * Buffers are opaque device pointers owned by the caller through
 * alloc/release; `run` never allocates per call beyond the executor's own
 * scratch, which it keeps between calls (hot path, STYLE rule 10).
 */
#ifndef GN_EXECUTOR_H
#define GN_EXECUTOR_H

#include <stddef.h>

#include "error.h"
#include "graph.h"

#define GN_EXECUTOR_VERSION 2

typedef struct gn_executor_ops {
    int version;          /* GN_EXECUTOR_VERSION */
    const char *name;     /* "cpu", "cuda" */
    /* New executor state (caller owns; destroy), or NULL with ERR. */
    void *(*create)(gn_error *err);
    void (*destroy)(void *ex);
    /* A device buffer of BYTES (zeroed), or NULL when out of memory. */
    void *(*alloc)(void *ex, size_t bytes);
    void (*release)(void *ex, void *buf);
    /* Host <-> device copies.  0 or a negative code. */
    int (*upload)(void *ex, void *dst, const void *host, size_t bytes);
    int (*download)(void *ex, void *host, const void *src, size_t bytes);
    /*
     * Runs node ID of G: IN[k] holds input k (gn_graph_node_inputs order),
     * OUT[k] receives output k; all sized as their tensors' bytes.  Returns
     * 0, or GN_EUNSUPPORTED (op/dtype/attrs it cannot run) / GN_EINVAL
     * (inconsistent shapes) with ERR naming the node and module.
     */
    int (*run)(void *ex, const gn_graph *g, uint32_t id, void *const *in,
               void *const *out, gn_error *err);
    /* Version 2 (may be NULL): zeroes BYTES of BUF, so a caller can reuse
     * a buffer instead of releasing and allocating one (fresh memory
     * costs page faults).  0 or a negative code. */
    int (*zero)(void *ex, void *buf, size_t bytes);
    /* Version 2: buffers are plain host memory (the CPU executor), so a
     * transport may read and write them in place. */
    int host_visible;
} gn_executor_ops;

/* The CPU executor (always present). */
const gn_executor_ops *gn_executor_cpu(void);

/*
 * The executor called NAME: "cpu", or "cuda" in builds that found the CUDA
 * toolkit (real/executors.c).  Returns a static table (never freed), or
 * NULL for an unknown name or one this build lacks.  A table returned for
 * "cuda" may still fail in create when the machine has no CUDA device.
 */
const gn_executor_ops *gn_executor_find(const char *name);

/*
 * For a program's main, first thing: OpenBLAS starts its worker threads
 * when the library loads, before main, and they spin for about 0.1 s of
 * CPU before they sleep, even when the CPU executor then asks for one
 * thread (GN_CPU_THREADS, default 1) — on a node that shares two cores
 * with its client that is time stolen from whatever runs.  Only the
 * environment at load time prevents it, so where OPENBLAS_NUM_THREADS is
 * unset this sets it to GN_CPU_THREADS (or 1) and executes the program
 * again (/proc/self/exe, same ARGV).  Returns when nothing was to be done
 * or the re-execution failed (the program then runs as before).
 */
void gn_executor_blas_env(char **argv);

/*
 * For a program's main, after gn_executor_blas_env: makes the C
 * allocator keep the memory of freed tensors for the next step or
 * session rather than give it back to the kernel at once.  By default
 * glibc serves a buffer above its mmap threshold (128 KiB, rising as such
 * buffers are freed) with a fresh mapping and hands the top of a heap
 * beyond 128 KiB back on free, so the buffers of every new session (a
 * thread with its own arena, on the node) and of every fresh runner are
 * faulted in and zeroed by the kernel page by page again, inside the
 * timed compute.  With this, buffers up to 32 MiB come from the heap and
 * up to 32 MiB of free memory stay mapped per arena (M_MMAP_THRESHOLD,
 * M_TRIM_THRESHOLD; glibc only).  GN_MALLOC_DEFAULT=1 in the environment
 * keeps glibc's defaults, for comparison.
 */
void gn_executor_malloc_env(void);

/* Gives the free memory gn_executor_malloc_env lets the allocator keep
 * back to the kernel (malloc_trim), for a program gone idle. */
void gn_executor_malloc_release(void);

#endif /* GN_EXECUTOR_H */
