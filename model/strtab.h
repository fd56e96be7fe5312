/*
 * strtab.h — string interning: maps strings to dense ids 0..n-1.
 *
 * Used for storage identities (persistent tensors across steps) and other
 * names that are compared often.  Lookups are O(1) expected (open
 * addressing, power-of-two table, FNV-1a).  The table owns copies of the
 * strings.
 */
#ifndef GN_STRTAB_H
#define GN_STRTAB_H

#include <stdint.h>

typedef struct gn_strtab gn_strtab;

/* Returns a new empty table (caller owns; free with gn_strtab_destroy), or
 * NULL when out of memory. */
gn_strtab *gn_strtab_create(void);

/* Frees TAB and its strings; NULL is a no-op. */
void gn_strtab_destroy(gn_strtab *tab);

/* Returns the id of S, adding a copy of S if absent; GN_ENOMEM on failure
 * (the table is unchanged). */
int32_t gn_strtab_intern(gn_strtab *tab, const char *s);

/* Returns the id of S, or -1 when absent. */
int32_t gn_strtab_find(const gn_strtab *tab, const char *s);

/* Returns the string of ID (borrowed, valid while TAB lives). */
const char *gn_strtab_str(const gn_strtab *tab, int32_t id);

/* Number of strings interned. */
uint32_t gn_strtab_count(const gn_strtab *tab);

#endif /* GN_STRTAB_H */
