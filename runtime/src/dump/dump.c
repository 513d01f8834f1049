/* dump.c - memory of an at_dump: every allocation of a dump comes from its
 * arena (a list of mmap'ed chunks) and is released at once by at_dump_free.
 *
 * Freed chunks are kept for the next dump (up to AT__ARENA_KEEP bytes in
 * all), so a dump taken again and again writes into memory that is already
 * mapped instead of faulting every page in afresh: at 100,000 tasks a dump
 * is about 90 MB, and the page faults of fresh memory were a third of it.
 * Kept chunks are marked MADV_FREE, so the kernel may take their pages back
 * under memory pressure (a page it took comes back zero on the next touch).
 * Fresh chunks are zero already; memory of a kept chunk is cleared as it is
 * handed out, so every allocation is zero either way. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "asynctrace/dump.h"
#include "dump/dump_arena.h"

/* Chunks double in size up to AT__CHUNK_MAX so a dump of a million tasks
 * takes a few dozen mappings.  MAP_POPULATE faults the pages of a fresh
 * chunk in with one system call instead of one fault per page. */
#define AT__CHUNK_MIN (64 * 1024)
#define AT__CHUNK_MAX (16 * 1024 * 1024)
#define AT__ARENA_KEEP (128 * 1024 * 1024)

/* The chunks of freed dumps, smallest first. */
static struct {
    pthread_mutex_t lock;
    at__chunk *head;
    size_t bytes; /* mapped bytes kept */
} at__kept = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};

/* A kept chunk of at least `want` bytes (the smallest such), or NULL. */
static at__chunk *at__chunk_reuse(size_t want)
{
    at__chunk *c = NULL;
    pthread_mutex_lock(&at__kept.lock);
    for (at__chunk **pp = &at__kept.head; *pp; pp = &(*pp)->next)
        if ((*pp)->size >= want) {
            c = *pp;
            *pp = c->next;
            at__kept.bytes -= c->mapped;
            break;
        }
    pthread_mutex_unlock(&at__kept.lock);
    if (c) {
        c->next = NULL;
        c->used = 0;
        c->reused = 1;
    }
    return c;
}

/* Keep chunk c for a later dump (1), or 0 when the store is full.  Its
 * used pages are marked MADV_FREE before any other thread can take it. */
static int at__chunk_keep(at__chunk *c)
{
    pthread_mutex_lock(&at__kept.lock);
    int room = at__kept.bytes + c->mapped <= AT__ARENA_KEEP;
    if (room)
        at__kept.bytes += c->mapped; /* reserved */
    pthread_mutex_unlock(&at__kept.lock);
    if (!room)
        return 0;
    /* The first page holds the header; only the used part has pages. */
    size_t used = (sizeof(at__chunk) + c->used + 4095) & ~(size_t)4095;
    if (used > c->mapped)
        used = c->mapped;
    if (used > 4096)
        madvise((char *)c + 4096, used - 4096, MADV_FREE);
    pthread_mutex_lock(&at__kept.lock);
    at__chunk **pp = &at__kept.head;
    while (*pp && (*pp)->size < c->size)
        pp = &(*pp)->next;
    c->next = *pp;
    *pp = c;
    pthread_mutex_unlock(&at__kept.lock);
    return 1;
}

static at__chunk *at__chunk_new(size_t want)
{
    at__chunk *r = at__chunk_reuse(want);
    if (r)
        return r;
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
    c->reused = 0;
    return c;
}

void *at__arena_take(at_dump *d, size_t size, int *reused)
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
    *reused = c->reused;
    return p;
}

void *at_dump_alloc(at_dump *d, size_t size)
{
    int reused = 0;
    void *p = at__arena_take(d, size, &reused);
    if (p && reused)
        memset(p, 0, size);
    return p; /* zero: fresh anonymous memory, or cleared just now */
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
        if (!at__chunk_keep(c))
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
