/* dump_arena.h - the dump arena's allocation without clearing, for the
 * walkers that write every byte of what they take (dump.c). */
#ifndef AT_DUMP_ARENA_H
#define AT_DUMP_ARENA_H

#include <stddef.h>

#include "asynctrace/dump.h"

/* at_dump_alloc without the guarantee that the memory is zero: for large
 * arrays filled element by element, so a kept chunk is not cleared in a
 * separate pass over memory that is written right after. */
void *at__dump_alloc_raw(at_dump *d, size_t size);

#endif
