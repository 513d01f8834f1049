/* dump_arena.h - the dump arena's chunks, and allocation without clearing
 * for the walkers that write every byte of what they take (dump.c). */
#ifndef AT_DUMP_ARENA_H
#define AT_DUMP_ARENA_H

#include <stddef.h>

#include "asynctrace/dump.h"

/* One mapping of a dump's arena (at_dump.arena is the newest). */
typedef struct at__chunk {
    struct at__chunk *next;
    size_t used, size; /* size: bytes of mem[] */
    size_t mapped;     /* bytes of the whole mapping */
    int reused;        /* kept from a freed dump: clear what is handed out */
    _Alignas(16) unsigned char mem[];
} at__chunk;

/* size bytes (rounded up to 16) from d's arena, from a new chunk when the
 * newest is full; *reused says whether the memory may hold old bytes.
 * NULL when out of memory. */
void *at__arena_take(at_dump *d, size_t size, int *reused);

/* at_dump_alloc without the guarantee that the memory is zero: for memory
 * the caller writes whole right away, so a kept chunk is not cleared in a
 * separate pass.  The common case (room in the newest chunk) inline. */
static inline void *at__dump_alloc_raw(at_dump *d, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    at__chunk *c = (at__chunk *)d->arena;
    if (__builtin_expect(c && c->size - c->used >= size, 1)) {
        void *p = c->mem + c->used;
        c->used += size;
        return p;
    }
    int reused;
    return at__arena_take(d, size, &reused);
}

#endif
