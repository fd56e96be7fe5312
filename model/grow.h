/*
 * grow.h — the one growable-array helper the library's modules share
 * (cross-file internal, hence the gn__ prefix).
 */
#ifndef GN_GROW_H
#define GN_GROW_H

#include <stddef.h>
#include <stdint.h>

/*
 * Grows *ARR (elements of SIZE bytes, capacity *CAP) so that it holds at
 * least NEED elements, doubling from 16.  Returns 0, or GN_ENOMEM leaving
 * *ARR and *CAP untouched.
 */
int gn__grow(void **arr, uint32_t *cap, uint32_t need, size_t size);

#endif /* GN_GROW_H */
