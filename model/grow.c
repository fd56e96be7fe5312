/*
 * grow.c — growable arrays (see grow.h).
 */
#include "grow.h"

#include <stdlib.h>

#include "error.h"

int gn__grow(void **arr, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    uint64_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    if (n > UINT32_MAX)
        return GN_ENOMEM;
    void *p = realloc(*arr, (size_t)n * size);
    if (!p)
        return GN_ENOMEM;
    *arr = p;
    *cap = (uint32_t)n;
    return 0;
}
