/*
 * error.h — Genie's error codes and error detail.
 *
 * Every fallible libgenie function returns 0 or a negative GN_E* code.  The
 * codes, their names and their messages come from one X-macro so they can
 * never drift apart.  Functions that can say more than a code (parsers,
 * validators) also fill a gn_error: a one-line, human-readable detail in the
 * form "FILE: JSON-PATH: what was expected".  Libraries never print; programs
 * print gn_error.msg once and exit.
 */
#ifndef GN_ERROR_H
#define GN_ERROR_H

#include <stddef.h>

#define GN_ERRNO_MAP(X)                                                     \
    X(NOMEM, -1, "out of memory")                                           \
    X(INVAL, -2, "invalid argument")                                        \
    X(IO, -3, "input/output error")                                         \
    X(PARSE, -4, "malformed input")                                         \
    X(SCHEMA, -5, "input does not follow its schema")                       \
    X(CYCLE, -6, "graph has a cycle")                                       \
    X(RANGE, -7, "value out of range")                                      \
    X(NOTFOUND, -8, "not found")                                            \
    X(UNSUPPORTED, -9, "unsupported")                                       \
    X(BACKEND, -10, "backend failure")                                      \
    X(DB, -11, "results database error")

typedef enum gn_errno {
#define GN_ERRNO_ENUM(name, code, msg) GN_E##name = (code),
    GN_ERRNO_MAP(GN_ERRNO_ENUM)
#undef GN_ERRNO_ENUM
} gn_errno;

/* Detail of the last failure of a call that takes a gn_error *. */
typedef struct gn_error {
    int code;       /* GN_E* code, 0 when no error */
    char msg[512];  /* one line: "file: path: what was expected" */
} gn_error;

/* Returns the static message of CODE ("unknown error" for unknown codes). */
const char *gn_strerror(int code);

/* Returns the symbolic name of CODE without prefix ("NOMEM"). */
const char *gn_err_name(int code);

/*
 * Fills ERR (if not NULL) with CODE and a printf-style message and returns
 * CODE, so callers can write `return gn_error_set(err, GN_EINVAL, ...)`.
 */
int gn_error_set(gn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears ERR (if not NULL). */
void gn_error_clear(gn_error *err);

#endif /* GN_ERROR_H */
