/* task_pool.c - task memory: one pool of fixed-size blocks per runtime.
 *
 * A task (header + its future's state) is one block.  Block sizes are
 * multiples of AT__POOL_GRAIN (16) bytes up to AT__POOL_MAX (larger tasks
 * come from calloc), so a block wastes at most 15 bytes to rounding;
 * at_task.alloc_class (one byte) records the size class (0 = calloc).
 *
 * Blocks are carved from 2 MiB chunks, aligned to their size, so a block's
 * chunk (and the chunk's pool) is found from its address.  Chunks come from
 * mmap: fresh blocks are already zero and need no clearing; from the pool's
 * second chunk on they are advised as huge pages, so spawning a million tasks
 * costs a few hundred page faults instead of a few hundred thousand, while a
 * small program touches no more memory than it uses.
 *
 * Free blocks wait in per-thread caches: one per worker of a multi-thread
 * runtime, one for the thread driving a current-thread runtime (its owner,
 * inside at_block_on).  A thread uses its cache without any lock or atomic
 * operation.  A cache list that reaches AT__POOL_CACHE_MAX blocks goes whole,
 * as one batch, to the pool's depot (spin lock); an empty cache takes a
 * batch from the depot, else carves new blocks.  Threads without a cache
 * (spawns from outside the runtime, frees on other threads) use a shared
 * cache under the same spin lock.
 *
 * A freed block keeps AT_DEAD_MAGIC in the task magic's place, so a
 * debugger that follows a stale pointer sees a freed task, as with malloc.
 *
 * The pool lives as long as its runtime, and longer while tasks detached by
 * at_runtime_free (still held by join handles or wakers) remain: it counts
 * them and the last one's free releases every chunk.
 *
 * Released chunks are kept for the next pools, up to AT__POOL_SPARE_MAX
 * (512 MiB), advised MADV_FREE: the kernel takes their pages back if it
 * needs memory, and otherwise a runtime created after another one reuses
 * them without a page fault (faults cost far more than the tasks: a
 * million tasks fill 128 chunks).  A reused chunk's blocks are zeroed as
 * they are carved.
 *
 * Under AddressSanitizer every task comes from calloc, so use-after-free of
 * a task is still caught. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>

#include "core/internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define AT__POOL_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AT__POOL_DISABLED 1
#endif
#endif
#ifndef AT__POOL_DISABLED
#define AT__POOL_DISABLED 0
#endif

#define AT__POOL_CHUNK ((size_t)2 << 20)
#define AT__POOL_GRAIN 16u /* = the task state's alignment */
#define AT__POOL_MAX 2048u
#define AT__POOL_CLASSES (AT__POOL_MAX / AT__POOL_GRAIN + 1) /* 0 = calloc */
#define AT__POOL_CACHE_MAX 256u
#define AT__POOL_FIRST_BLOCK 64u /* chunk header size */
#define AT__POOL_SMALL_CHUNKS 1u  /* chunks before huge-page advice */
#define AT__POOL_SPARE_MAX 256u   /* released chunks kept for reuse */

/* A free block.  `magic` overlays at_task.magic. */
typedef struct at__free_block {
    uint32_t magic; /* AT_DEAD_MAGIC */
    uint32_t pad;
    struct at__free_block *next;       /* next block of its list */
    struct at__free_block *batch_next; /* depot: next batch */
    struct at__free_block *batch_tail; /* depot: last block of this batch */
    size_t batch_count;
} at__free_block;

typedef struct at__pool at__pool;

/* The head of every chunk. */
typedef struct at__chunk {
    at__pool *pool;
    struct at__chunk *next;
} at__chunk;

typedef struct at__pool_list {
    at__free_block *head, *tail;
    size_t n;
} at__pool_list;

/* One thread's; aligned so that two workers' caches share no line. */
typedef struct at__pool_cache {
    _Alignas(64) at__pool_list free[AT__POOL_CLASSES];
    char *bump, *bump_end; /* uncarved rest of this cache's chunk */
    int bump_dirty;        /* that chunk was used before: zero blocks */
} at__pool_cache;

struct at__pool {
    _Atomic uint32_t lock;       /* depot, shared cache, chunk list */
    unsigned ncaches;
    at__chunk *chunks;
    size_t nchunks;
    /* Blocks still allocated after the runtime was freed, plus one for the
     * runtime itself while it lives. */
    _Atomic uint64_t holds;
    at__free_block *depot[AT__POOL_CLASSES]; /* batches */
    at__pool_cache shared;
    at__pool_cache caches[];
};

_Static_assert(sizeof(at__free_block) <= sizeof(at_task), "free block fits a task");
_Static_assert(sizeof(at__chunk) <= AT__POOL_FIRST_BLOCK, "chunk header");
_Static_assert(AT__POOL_CLASSES - 1 <= UINT8_MAX, "a size class fits at_task.alloc_class");
_Static_assert(AT__POOL_GRAIN % 16 == 0 && AT__POOL_FIRST_BLOCK % 16 == 0,
               "blocks keep at_task.state_storage 16-byte aligned");

static inline size_t at__class_size(uint32_t cls) { return (size_t)cls * AT__POOL_GRAIN; }

/* ---- Chunks ---- */

/* Released chunks kept for reuse.  Their addresses live here, not in the
 * chunks: writing into a chunk after MADV_FREE would keep its page. */
static _Atomic uint32_t at__spare_lock;
static at__chunk *at__spare[AT__POOL_SPARE_MAX];
static size_t at__nspare;

static at__chunk *at__spare_take(void)
{
    at__chunk *c = NULL;
    at__spin_lock(&at__spare_lock);
    if (at__nspare)
        c = at__spare[--at__nspare];
    at__spin_unlock(&at__spare_lock);
    return c;
}

/* Keep a chunk of a destroyed pool for later, or unmap it. */
static void at__chunk_release(at__chunk *c)
{
#ifdef MADV_FREE
    if (madvise(c, AT__POOL_CHUNK, MADV_FREE) == 0) {
        at__spin_lock(&at__spare_lock);
        int kept = at__nspare < AT__POOL_SPARE_MAX;
        if (kept)
            at__spare[at__nspare++] = c;
        at__spin_unlock(&at__spare_lock);
        if (kept)
            return;
    }
#endif
    munmap(c, AT__POOL_CHUNK);
}

/* A new zeroed chunk from the kernel, aligned to its size. */
static at__chunk *at__chunk_map(at__pool *p)
{
    size_t sz = AT__POOL_CHUNK;
    char *m = mmap(NULL, 2 * sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)m + sz - 1) & ~(uintptr_t)(sz - 1));
    if (a > m)
        munmap(m, (size_t)(a - m));
    if (a + sz < m + 2 * sz)
        munmap(a + sz, (size_t)(m + 2 * sz - (a + sz)));
#ifdef MADV_HUGEPAGE
    if (p->nchunks >= AT__POOL_SMALL_CHUNKS)
        madvise(a, sz, MADV_HUGEPAGE);
#endif
    return (at__chunk *)a;
}

/* A chunk linked into p (lock held by the caller for the list): a spare
 * one (*dirty = 1) or a new one (already zero); mmap is done under the
 * lock, which is rare: once per 2 MiB of tasks. */
static at__chunk *at__chunk_new_locked(at__pool *p, int *dirty)
{
    at__chunk *c = at__spare_take();
    *dirty = c != NULL;
    if (!c && !(c = at__chunk_map(p)))
        return NULL;
    c->pool = p;
    c->next = p->chunks;
    p->chunks = c;
    p->nchunks++;
    return c;
}

static at__pool *at__pool_of_block(void *b)
{
    return ((at__chunk *)((uintptr_t)b & ~(uintptr_t)(AT__POOL_CHUNK - 1)))->pool;
}

/* ---- Lists and the depot ---- */

static inline at__free_block *at__list_pop(at__pool_list *l)
{
    at__free_block *b = l->head;
    l->head = b->next;
    if (!l->head)
        l->tail = NULL;
    l->n--;
    return b;
}

static inline void at__list_push(at__pool_list *l, at__free_block *b)
{
    b->next = l->head;
    l->head = b;
    if (!l->tail)
        l->tail = b;
    l->n++;
}

/* Move the whole list to the depot as one batch (lock held). */
static void at__depot_put_locked(at__pool *p, uint32_t cls, at__pool_list *l)
{
    at__free_block *h = l->head;
    h->batch_tail = l->tail;
    h->batch_count = l->n;
    h->batch_next = p->depot[cls];
    __atomic_store_n(&p->depot[cls], h, __ATOMIC_RELAXED); /* peeked unlocked */
    l->head = l->tail = NULL;
    l->n = 0;
}

/* Refill an empty list with one batch from the depot (lock held).  0 if
 * the depot had none. */
static int at__depot_get_locked(at__pool *p, uint32_t cls, at__pool_list *l)
{
    at__free_block *h = p->depot[cls];
    if (!h)
        return 0;
    __atomic_store_n(&p->depot[cls], h->batch_next, __ATOMIC_RELAXED);
    l->head = h;
    l->tail = h->batch_tail;
    l->n = h->batch_count;
    return 1;
}

/* ---- Allocation from one cache ---- */

/* Carve a fresh (zero) block; `locked` says whether p->lock is held. */
static void *at__carve(at__pool *p, at__pool_cache *c, size_t size, int locked)
{
    if ((size_t)(c->bump_end - c->bump) < size) {
        if (!locked)
            at__spin_lock(&p->lock);
        at__chunk *ch = at__chunk_new_locked(p, &c->bump_dirty);
        if (!locked)
            at__spin_unlock(&p->lock);
        if (!ch)
            return NULL;
        c->bump = (char *)ch + AT__POOL_FIRST_BLOCK;
        c->bump_end = (char *)ch + AT__POOL_CHUNK;
    }
    void *b = c->bump;
    c->bump += size;
    if (c->bump_dirty)
        memset(b, 0, size);
    return b;
}

/* A zeroed block from cache c.  `locked`: p->lock is held (shared cache). */
static void *at__cache_alloc(at__pool *p, at__pool_cache *c, uint32_t cls, int locked)
{
    at__pool_list *l = &c->free[cls];
    size_t size = at__class_size(cls);
    if (!l->head) {
        int got;
        if (locked) {
            got = at__depot_get_locked(p, cls, l);
        } else if (__atomic_load_n(&p->depot[cls], __ATOMIC_RELAXED)) {
            at__spin_lock(&p->lock);
            got = at__depot_get_locked(p, cls, l);
            at__spin_unlock(&p->lock);
        } else {
            got = 0;
        }
        if (!got)
            return at__carve(p, c, size, locked);
    }
    void *b = at__list_pop(l);
    memset(b, 0, size);
    return b;
}

static void at__cache_free(at__pool *p, at__pool_cache *c, uint32_t cls, void *b, int locked)
{
    at__pool_list *l = &c->free[cls];
    if (l->n >= AT__POOL_CACHE_MAX) {
        if (!locked)
            at__spin_lock(&p->lock);
        at__depot_put_locked(p, cls, l);
        if (!locked)
            at__spin_unlock(&p->lock);
    }
    at__list_push(l, b);
}

/* This thread's own cache in rt's pool, or NULL: the owner of a
 * current-thread runtime (inside at_block_on), or a worker of a
 * multi-thread one. */
static at__pool_cache *at__cache_of(at__pool *p, at_runtime *rt)
{
    at_trace_context *tcx = at__tls_context;
    if (!tcx || tcx->runtime != rt)
        return NULL;
    if (rt->flavor == AT_FLAVOR_CURRENT_THREAD) {
        at_trace_context *owner = __atomic_load_n(&at__rt(rt)->owner, __ATOMIC_RELAXED);
        return owner == tcx ? &p->caches[0] : NULL;
    }
    if (tcx->worker >= 0 && (unsigned)tcx->worker < p->ncaches)
        return &p->caches[tcx->worker];
    return NULL;
}

/* ---- The interface (core/internal.h) ---- */

int at__pool_new(at_runtime *rt, unsigned ncaches)
{
    if (AT__POOL_DISABLED) {
        at__rt(rt)->task_pool = NULL;
        return 0;
    }
    size_t sz = sizeof(at__pool) + (size_t)ncaches * sizeof(at__pool_cache);
    at__pool *p = aligned_alloc(64, (sz + 63) & ~(size_t)63);
    if (!p)
        return AT_ENOMEM;
    memset(p, 0, sz);
    p->ncaches = ncaches;
    atomic_store_explicit(&p->holds, 1, memory_order_relaxed);
    at__rt(rt)->task_pool = p;
    return 0;
}

static void at__pool_destroy(at__pool *p)
{
    at__chunk *c = p->chunks;
    while (c) {
        at__chunk *next = c->next;
        at__chunk_release(c);
        c = next;
    }
    free(p);
}

void *at__pool_alloc(at_runtime *rt, size_t size, uint32_t *cls_out)
{
    at__pool *p = at__rt(rt)->task_pool;
    size_t rounded = (size + AT__POOL_GRAIN - 1) / AT__POOL_GRAIN;
    if (!p || size > AT__POOL_MAX) {
        *cls_out = 0;
        return calloc(1, size);
    }
    uint32_t cls = (uint32_t)rounded;
    *cls_out = cls;
    at__pool_cache *c = at__cache_of(p, rt);
    if (c)
        return at__cache_alloc(p, c, cls, 0);
    at__spin_lock(&p->lock);
    void *b = at__cache_alloc(p, &p->shared, cls, 1);
    at__spin_unlock(&p->lock);
    return b;
}

void at__pool_free(at_runtime *rt, void *b, uint32_t cls)
{
    if (!cls) {
        free(b);
        return;
    }
    ((at__free_block *)b)->magic = AT_DEAD_MAGIC;
    if (!rt) {
        /* Detached by at_runtime_free: the pool may outlive its runtime. */
        at__pool *p = at__pool_of_block(b);
        if (atomic_fetch_sub_explicit(&p->holds, 1, memory_order_acq_rel) == 1)
            at__pool_destroy(p);
        return;
    }
    at__pool *p = at__rt(rt)->task_pool;
    at__pool_cache *c = at__cache_of(p, rt);
    if (c) {
        at__cache_free(p, c, cls, b, 0);
        return;
    }
    at__spin_lock(&p->lock);
    at__cache_free(p, &p->shared, cls, b, 1);
    at__spin_unlock(&p->lock);
}

void at__pool_hold(at_runtime *rt, uint64_t n)
{
    at__pool *p = at__rt(rt)->task_pool;
    if (p)
        atomic_fetch_add_explicit(&p->holds, n, memory_order_relaxed);
}

void at__pool_release(at_runtime *rt)
{
    at__pool *p = at__rt(rt)->task_pool;
    at__rt(rt)->task_pool = NULL;
    if (p && atomic_fetch_sub_explicit(&p->holds, 1, memory_order_acq_rel) == 1)
        at__pool_destroy(p);
}
