/* dump.c - memory of an at_dump: every allocation of a dump comes from its
 * arena (a list of mmap'ed chunks, zero on arrival) and is released at once
 * by at_dump_free. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "asynctrace/dump.h"

typedef struct at__chunk {
    struct at__chunk *next;
    size_t used, size; /* size: bytes of mem[] */
    size_t mapped;     /* bytes of the whole mapping */
    _Alignas(16) unsigned char mem[];
} at__chunk;

/* Chunks come straight from mmap, so their memory is already zero and an
 * allocation needs no memset; they double in size up to AT__CHUNK_MAX so a
 * dump of a million tasks takes a few dozen mappings.  MAP_POPULATE faults
 * the pages in with one system call instead of one fault per page. */
#define AT__CHUNK_MIN (64 * 1024)
#define AT__CHUNK_MAX (16 * 1024 * 1024)

static at__chunk *at__chunk_new(size_t want)
{
    size_t bytes = (sizeof(at__chunk) + want + 4095) & ~(size_t)4095;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    at__chunk *c = m;
    c->next = NULL;
    c->used = 0;
    c->size = bytes - sizeof(at__chunk);
    c->mapped = bytes;
    return c;
}

void *at_dump_alloc(at_dump *d, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    at__chunk *c = d->arena;
    if (!c || c->size - c->used < size) {
        size_t cs = c ? c->size * 2 : AT__CHUNK_MIN;
        if (cs > AT__CHUNK_MAX)
            cs = AT__CHUNK_MAX;
        if (cs < size)
            cs = size;
        at__chunk *n = at__chunk_new(cs);
        if (!n)
            return NULL;
        /* A one-off allocation larger than the next chunk goes behind the
         * current chunk so that chunk's free space is not wasted. */
        if (c && size > AT__CHUNK_MAX) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            d->arena = n;
        }
        c = n;
    }
    void *p = c->mem + c->used;
    c->used += size;
    return p; /* zero: fresh anonymous memory, never handed out before */
}

const char *at_dump_strdup(at_dump *d, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = at_dump_alloc(d, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static const char *at__dump_vprintf(at_dump *d, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    return at_dump_strdup(d, buf);
}

const char *at_dump_printf(at_dump *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = at__dump_vprintf(d, fmt, ap);
    va_end(ap);
    return s;
}

void at_dump_note(at_dump *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = at__dump_vprintf(d, fmt, ap);
    va_end(ap);
    if (!s)
        return;
    /* Notes are few: grow the array by copying into the arena. */
    const char **n = at_dump_alloc(d, (d->nerrors + 1) * sizeof(char *));
    if (!n)
        return;
    if (d->nerrors)
        memcpy(n, d->errors, d->nerrors * sizeof(char *));
    n[d->nerrors++] = s;
    d->errors = n;
}

void at_dump_free(at_dump *d)
{
    if (!d)
        return;
    at__chunk *c = d->arena;
    while (c) {
        at__chunk *n = c->next;
        munmap(c, c->mapped);
        c = n;
    }
    free(d);
}

const at_dump_task *at_dump_find_task(const at_dump *d, uint64_t id)
{
    for (size_t r = 0; r < d->nruntimes; r++) {
        const at_dump_runtime *rt = &d->runtimes[r];
        /* Tasks are sorted by id: binary search. */
        size_t lo = 0, hi = rt->ntasks;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (rt->tasks[mid].id < id)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < rt->ntasks && rt->tasks[lo].id == id)
            return &rt->tasks[lo];
    }
    return NULL;
}
