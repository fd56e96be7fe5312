/*
 * error.c — error codes, names and detail messages (see error.h).
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *gn_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define GN_ERRNO_MSG(name, c, msg) \
    case c:                        \
        return msg;
        GN_ERRNO_MAP(GN_ERRNO_MSG)
#undef GN_ERRNO_MSG
    }
    return "unknown error";
}

const char *gn_err_name(int code)
{
    switch (code) {
    case 0:
        return "OK";
#define GN_ERRNO_NAME(name, c, msg) \
    case c:                         \
        return #name;
        GN_ERRNO_MAP(GN_ERRNO_NAME)
#undef GN_ERRNO_NAME
    }
    return "UNKNOWN";
}

int gn_error_set(gn_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void gn_error_clear(gn_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
