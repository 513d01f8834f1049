/* 13_stripped_abba - scenario 02 built from the same source and stripped
 * (mk/harness.mk strips it): no symbol table, no DWARF.  The offline
 * traces must be the same as for the unstripped build (names and lines
 * come from the site records, found through the layout table); its expect
 * file says `same-as 02_mutex_abba`.  Offline only: a stripped binary
 * gives the live dump's native frames no names to project. */
#define SCN_OFFLINE_ONLY 1
#include "02_mutex_abba.c"
