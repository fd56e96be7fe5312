/*
 * strtab.c — string interning with open addressing (see strtab.h).
 *
 * Layout: `strs` holds the strings by id; `slots` is a power-of-two table
 * of ids+1 (0 = empty) probed linearly.  The load factor stays <= 1/2.
 */
#include "strtab.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct gn_strtab {
    char **strs;     /* by id; owned copies */
    uint32_t n;      /* strings interned */
    uint32_t cap;    /* capacity of strs */
    uint32_t *slots; /* id + 1, or 0 for an empty slot */
    uint32_t nslots; /* power of two */
};

/* ========================== private helpers ========================== */

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static uint32_t *probe(const gn_strtab *tab, const char *s)
{
    uint32_t mask = tab->nslots - 1;
    for (uint32_t i = hash(s) & mask;; i = (i + 1) & mask) {
        uint32_t v = tab->slots[i];
        if (v == 0 || strcmp(tab->strs[v - 1], s) == 0)
            return &tab->slots[i];
    }
}

static int grow_slots(gn_strtab *tab)
{
    uint32_t n = tab->nslots ? tab->nslots * 2 : 64;
    uint32_t *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return GN_ENOMEM;
    free(tab->slots);
    tab->slots = slots;
    tab->nslots = n;
    for (uint32_t id = 0; id < tab->n; id++)
        *probe(tab, tab->strs[id]) = id + 1;
    return 0;
}

/* ========================== API ========================== */

gn_strtab *gn_strtab_create(void)
{
    gn_strtab *tab = calloc(1, sizeof(*tab));
    if (!tab || grow_slots(tab) < 0) {
        free(tab);
        return NULL;
    }
    return tab;
}

void gn_strtab_destroy(gn_strtab *tab)
{
    if (!tab)
        return;
    for (uint32_t i = 0; i < tab->n; i++)
        free(tab->strs[i]);
    free(tab->strs);
    free(tab->slots);
    free(tab);
}

int32_t gn_strtab_find(const gn_strtab *tab, const char *s)
{
    uint32_t v = *probe(tab, s);
    return v ? (int32_t)(v - 1) : -1;
}

int32_t gn_strtab_intern(gn_strtab *tab, const char *s)
{
    uint32_t *slot = probe(tab, s);
    if (*slot)
        return (int32_t)(*slot - 1);
    if ((tab->n + 1) * 2 > tab->nslots) {
        if (grow_slots(tab) < 0)
            return GN_ENOMEM;
        slot = probe(tab, s);
    }
    if (tab->n == tab->cap) {
        uint32_t cap = tab->cap ? tab->cap * 2 : 32;
        char **strs = realloc(tab->strs, cap * sizeof(*strs));
        if (!strs)
            return GN_ENOMEM;
        tab->strs = strs;
        tab->cap = cap;
    }
    char *copy = strdup(s);
    if (!copy)
        return GN_ENOMEM;
    tab->strs[tab->n] = copy;
    *slot = ++tab->n;
    return (int32_t)(tab->n - 1);
}

const char *gn_strtab_str(const gn_strtab *tab, int32_t id)
{
    assert(id >= 0 && (uint32_t)id < tab->n);
    return tab->strs[id];
}

uint32_t gn_strtab_count(const gn_strtab *tab)
{
    return tab->n;
}
