/* snapshot.c - the in-process snapshot walker.
 *
 * Walks the runtime's records the way a debugger does: from the descriptor,
 * by the offsets of the layout table (never by the C structs), with every
 * read checked through process_vm_readv on this very process (a garbage
 * pointer gives an error, not a crash), every list and chain bounded by a
 * visited set and a cap, and no lock taken.  Problems are recorded in the
 * dump ("corrupt: ..." / "in-flux: ...") and the walk goes on with what is
 * readable. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/internal.h"
#include "dump/dump_arena.h"

/* ---- Checked memory reads ---- */

typedef struct at__reader {
    pid_t pid;
    int direct; /* trusted memory: plain copies (used by live dumps) */
} at__reader;

static inline int at__read(const at__reader *r, uint64_t addr, void *buf, size_t n)
{
    if (!addr || addr + n < addr)
        return -1;
    if (r->direct) {
        memcpy(buf, (const void *)(uintptr_t)addr, n);
        return 0;
    }
    struct iovec local = {buf, n}, remote = {(void *)(uintptr_t)addr, n};
    return process_vm_readv(r->pid, &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -1;
}

/* Read a NUL-terminated string of at most cap-1 bytes, page by page. */
static int at__read_str(const at__reader *r, uint64_t addr, char *buf, size_t cap)
{
    if (r->direct) { /* trusted memory: never read past the terminator */
        if (!addr)
            return -1;
        size_t n = strnlen((const char *)(uintptr_t)addr, cap - 1);
        memcpy(buf, (const void *)(uintptr_t)addr, n);
        buf[n] = 0;
        return 0;
    }
    size_t got = 0;
    while (got < cap - 1) {
        size_t page_left = 4096 - ((addr + got) & 4095);
        size_t want = cap - 1 - got < page_left ? cap - 1 - got : page_left;
        if (at__read(r, addr + got, buf + got, want) < 0)
            return got ? 0 : -1;
        void *nul = memchr(buf + got, 0, want);
        if (nul)
            return 0;
        got += want;
    }
    buf[cap - 1] = 0;
    return 0;
}

/* ---- Visited sets ----
 * The first few members live in a small array scanned linearly (an await
 * tree has a handful of frames, and clearing must be cheap because it
 * happens per task); larger sets spill into an open-addressing table. */

#define AT__SET_SMALL 16

typedef struct at__set {
    uint64_t small[AT__SET_SMALL];
    size_t nsmall;
    uint64_t *slots;
    size_t cap, len;
} at__set;

static int at__set_add_big(at__set *s, uint64_t v)
{
    if ((s->len + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        uint64_t *n = calloc(ncap, sizeof(uint64_t));
        if (!n)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i]) {
                size_t j = (s->slots[i] * 0x9e3779b97f4a7c15ull >> 7) & (ncap - 1);
                while (n[j])
                    j = (j + 1) & (ncap - 1);
                n[j] = s->slots[i];
            }
        free(s->slots);
        s->slots = n;
        s->cap = ncap;
    }
    size_t j = (v * 0x9e3779b97f4a7c15ull >> 7) & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == v)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = v;
    s->len++;
    return 1;
}

static AT_NOINLINE int at__set_spill(at__set *s, uint64_t v)
{
    if (!s->len) /* first spill: move the small members over */
        for (size_t i = 0; i < s->nsmall; i++)
            if (at__set_add_big(s, s->small[i]) < 0)
                return -1;
    s->nsmall = 0;
    return at__set_add_big(s, v);
}

static inline int at__set_add(at__set *s, uint64_t v) /* 1 added, 0 present, -1 oom */
{
    for (size_t i = 0; i < s->nsmall; i++)
        if (s->small[i] == v)
            return 0;
    if (s->nsmall < AT__SET_SMALL && !s->len) {
        s->small[s->nsmall++] = v;
        return 1;
    }
    return at__set_spill(s, v);
}

static void at__set_clear(at__set *s)
{
    s->nsmall = 0;
    if (s->len)
        memset(s->slots, 0, s->cap * sizeof(uint64_t));
    s->len = 0;
}

/* ---- The layout, from the table in the process ---- */

/* The fields this walker reads: X(record, id, member).  The table name of
 * each is the member designator spelled as abi.c spells it (#member of the
 * same AT_LAYOUT_* entry), and offsetof below makes a renamed member a
 * compile error here, so the walker holds no second spelling of any name. */
#define AT__LAYOUT_WANTED(X)                                                   \
    X(runtime, magic, magic) X(runtime, flavor, flavor) X(runtime, id, id)     \
    X(runtime, next, next) X(runtime, owned_head, owned_head)                  \
    X(runtime, task_count, task_count) X(runtime, workers, workers)            \
    X(runtime, now_ns, now_ns) X(runtime, spawned_total, spawned_total)        \
    X(task, magic, magic) X(task, state, state) X(task, id, id)                \
    X(task, parent_id, parent_id) X(task, spawn_site, spawn_site)              \
    X(task, root, root) X(task, owned_next, owned_next)                        \
    X(task, owned_prev, owned_prev) X(task, poll_count, poll_count)            \
    X(task, created_ns, created_ns) X(task, state_ns, state_ns)                \
    X(task, poll_start_ns, poll_start_ns) X(task, poll_end_ns, poll_end_ns)    \
    X(task, worker, worker) X(task, flags, flags) X(task, name, name)          \
    X(site, magic, magic) X(site, kind, kind) X(site, function, function)      \
    X(site, file, file) X(site, line, line) X(site, poll, poll)                \
    X(frame, site, site) X(frame, child, child) X(frame, sibling, sibling)     \
    X(frame, resume, resume) X(await, line, line)                              \
    X(leaf, wait_kind, wait.kind) X(leaf, wait_flags, wait.flags)              \
    X(leaf, wait_object, wait.object) X(leaf, wait_since_ns, wait.since_ns)    \
    X(leaf, wait_detail0, wait.detail[0])                                      \
    X(context, magic, magic) X(context, role, role) X(context, tid, tid)       \
    X(context, worker, worker) X(context, active, active)                      \
    X(context, current, current) X(context, runtime, runtime)                  \
    X(context, next, next) X(context, poll_start_ns, poll_start_ns)            \
    X(root_frame, parent, parent) X(root_frame, task, task)                    \
    X(mutex, magic, magic) X(mutex, owner_id, owner_id)                        \
    X(mutex, waiters, waiters) X(mutex, lock_site, lock_site)                  \
    X(mutex, lock_line, lock_line)                                             \
    X(semaphore, magic, magic) X(semaphore, waiters, waiters)                  \
    X(semaphore, permits, permits) X(semaphore, max_permits, max_permits)      \
    X(semaphore, untracked, untracked) X(semaphore, holders, holders)          \
    X(notify, magic, magic) X(notify, waiters, waiters)                        \
    X(notify, last_notifier, last_notifier) X(notify, notified, notified)      \
    X(chan, magic, magic) X(chan, flags, flags) X(chan, capacity, capacity)    \
    X(chan, len, len) X(chan, senders, senders)                                \
    X(chan, rx_task_id, rx_task_id) X(chan, send_waiters, send_waiters)        \
    X(chan, recv_waiters, recv_waiters) X(chan, tx_untracked, tx_untracked)    \
    X(chan, tx_holders, tx_holders)                                            \
    X(oneshot, magic, magic) X(oneshot, flags, flags)                          \
    X(oneshot, rx_task_id, rx_task_id) X(oneshot, tx_task_id, tx_task_id)      \
    X(holder, task_id, task_id) X(holder, count, count)                        \
    X(blocking_job, magic, magic) X(blocking_job, tid, tid)

/* Records, in the order of abi.h's AT_LAYOUT_RECORDS: R_<record>, the C
 * type of each (AT__TYPE_<record>) and its table name. */
enum {
#define AT__R(rec, type, list) R_##rec,
    AT_LAYOUT_RECORDS(AT__R)
#undef AT__R
    R_COUNT
};
#define AT__R(rec, type, list) typedef type at__type_##rec;
AT_LAYOUT_RECORDS(AT__R)
#undef AT__R
static const char *const at__record_names[R_COUNT] = {
#define AT__R(rec, type, list) #rec,
    AT_LAYOUT_RECORDS(AT__R)
#undef AT__R
};

enum {
#define AT__L(rec, id, member) L_##rec##_##id,
    AT__LAYOUT_WANTED(AT__L)
#undef AT__L
    L_COUNT
};

#define AT__W(rec, id, member)                                                 \
    _Static_assert(offsetof(at__type_##rec, member) < 4096,                    \
                   #rec "." #member " is a field of its record");
AT__LAYOUT_WANTED(AT__W)
#undef AT__W

static const struct { int rec; const char *field; } at__wanted[L_COUNT] = {
#define AT__W(rec, id, member) {R_##rec, #member},
    AT__LAYOUT_WANTED(AT__W)
#undef AT__W
};

/* Where this build's compiler put each field: when the table in the process
 * says the same for every field (it describes this very build, unless it is
 * damaged), field reads use these constants instead of the table's values,
 * and the same read is a single load. */
static const struct { uint32_t off, size; } at__native[L_COUNT] = {
#define AT__W(rec, id, member)                                                 \
    {offsetof(at__type_##rec, member), sizeof(((at__type_##rec *)0)->member)},
    AT__LAYOUT_WANTED(AT__W)
#undef AT__W
};

typedef struct at__walk {
    at__reader rd;
    at_dump *d;
    int native;           /* off/size are at__native's */
    uint32_t off[L_COUNT];
    uint32_t size[L_COUNT];
    uint32_t rec_size[R_COUNT]; /* the table's record sizes */
    at__set seen;       /* per list / per tree */
    at__set sites_bad;  /* sites known unreadable */
    char strbuf[512];
} at__walk;

/* The record index of a table name, -1 for records this walker does not know. */
static int at__record_index(const char *name)
{
    for (int r = 0; r < R_COUNT; r++)
        if (!strcmp(at__record_names[r], name))
            return r;
    return -1;
}

/* Take the wanted fields of record `r` from its table entry. */
static void at__load_fields(at__walk *w, int r, const at_layout_record *rec, int *found)
{
    for (uint32_t j = 0; j < rec->field_count; j++) {
        at_layout_field fl;
        if (at__read(&w->rd, (uint64_t)(uintptr_t)(rec->fields + j), &fl, sizeof fl) < 0 ||
            at__read_str(&w->rd, (uint64_t)(uintptr_t)fl.name, w->strbuf, 64) < 0)
            continue;
        for (int k = 0; k < L_COUNT; k++)
            if (!found[k] && at__wanted[k].rec == r && !strcmp(at__wanted[k].field, w->strbuf)) {
                w->off[k] = fl.offset;
                w->size[k] = fl.size;
                found[k] = 1;
            }
    }
}

static int at__load_layout(at__walk *w, uint64_t table, uint32_t count)
{
    int found[L_COUNT] = {0};
    if (count == 0 || count > 256) {
        at_dump_note(w->d, "corrupt: layout table has %u records", count);
        return -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        at_layout_record rec;
        if (at__read(&w->rd, table + i * sizeof rec, &rec, sizeof rec) < 0 ||
            at__read_str(&w->rd, (uint64_t)(uintptr_t)rec.name, w->strbuf, 64) < 0) {
            at_dump_note(w->d, "corrupt: layout record %u unreadable", i);
            return -1;
        }
        int r = at__record_index(w->strbuf);
        if (r < 0)
            continue;
        w->rec_size[r] = rec.size;
        if (rec.field_count <= 256)
            at__load_fields(w, r, &rec, found);
    }
    for (int k = 0; k < L_COUNT; k++)
        if (!found[k]) {
            at_dump_note(w->d, "layout table lacks %s.%s",
                         at__record_names[at__wanted[k].rec], at__wanted[k].field);
            return -1;
        }
    w->native = 1;
    for (int k = 0; k < L_COUNT; k++)
        if (w->off[k] != at__native[k].off || w->size[k] != at__native[k].size)
            w->native = 0;
    return 0;
}

/* Field access in a record buffer, by table offset and size. */
static inline __attribute__((always_inline)) uint64_t at__get(const at__walk *w, const unsigned char *rec, int f)
{
    uint64_t v = 0;
    /* Native offsets are the fields' own, so aligned (a copied record sits
     * in an aligned buffer).  A live dump reads its runtime's records in
     * place while other threads may update a task's state or flags with
     * atomics: each field is read once, as a relaxed atomic load (a plain
     * load on x86-64). */
    if (__builtin_expect(w->native, 1)) { /* constants when f is one */
        const unsigned char *p = rec + at__native[f].off;
        switch (at__native[f].size) {
        case 1: return __atomic_load_n(p, __ATOMIC_RELAXED);
        case 2: return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);
        case 4: return __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_RELAXED);
        case 8: return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED);
        default: break;
        }
    }
    switch (w->size[f]) {
    case 1: v = rec[w->off[f]]; break;
    case 2: { uint16_t x; memcpy(&x, rec + w->off[f], 2); v = x; break; }
    case 4: { uint32_t x; memcpy(&x, rec + w->off[f], 4); v = x; break; }
    case 8: memcpy(&v, rec + w->off[f], 8); break;
    default: break;
    }
    return v;
}

/* A whole record (size bytes, at most 512) at addr: read into buf, or over
 * trusted memory (live dumps) the record itself, in place; NULL when it
 * cannot be read.  Whatever is read from it is read once. */
static AT_NOINLINE const unsigned char *at__rec_copy(at__walk *w, uint64_t addr,
                                                     unsigned char *buf, uint32_t size)
{
    return at__read(&w->rd, addr, buf, size) < 0 ? NULL : buf;
}

static inline __attribute__((always_inline)) const unsigned char *
at__rec(at__walk *w, uint64_t addr, unsigned char *buf, uint32_t size)
{
    if (size == 0 || size > 512 || !addr || addr + size < addr)
        return NULL;
    if (w->rd.direct)
        return (const unsigned char *)(uintptr_t)addr;
    return at__rec_copy(w, addr, buf, size);
}

/* Record r at addr (at__rec) with its magic field checked: *rec is set
 * and 0 returned, or -1 unreadable, -2 bad magic. */
static int at__read_magic(at__walk *w, uint64_t addr, unsigned char *buf, int r,
                          int magic_field, uint32_t magic, const unsigned char **rec)
{
    const unsigned char *p = at__rec(w, addr, buf, w->rec_size[r]);
    if (!p)
        return -1;
    *rec = p;
    return at__get(w, p, magic_field) == magic ? 0 : -2;
}

/* A bounded list walk's step: 1 to go on to `cur` (the n-th node), 0 (with
 * a note) when it was seen before or the list reached `max`. */
static int at__list_step(at__walk *w, at__set *seen, uint64_t cur, size_t n,
                         unsigned max, const char *list)
{
    if (n == max || at__set_add(seen, cur) != 1) {
        at_dump_note(w->d, "corrupt: %s list loops or exceeds %u", list, max);
        return 0;
    }
    return 1;
}

/* Make room for element n of the arena array *arr (*cap elements of
 * `size`), doubling it when full: 0, or -1 out of memory. */
static int at__grow(at_dump *d, void *arr, size_t *cap, size_t n, size_t size)
{
    void **a = arr;
    if (n < *cap)
        return 0;
    void *bigger = at_dump_alloc(d, *cap * 2 * size);
    if (!bigger)
        return -1;
    memcpy(bigger, *a, n * size);
    *a = bigger;
    *cap *= 2;
    return 0;
}

static const char *at__dup_str(at__walk *w, uint64_t addr)
{
    if (!addr || at__read_str(&w->rd, addr, w->strbuf, sizeof w->strbuf) < 0)
        return NULL;
    return at_dump_strdup(w->d, w->strbuf);
}

/* The line of the at_await record a frame's resume points to; 0 when
 * there is none (or it cannot be read: the frame then shows its site's
 * line). */
static uint32_t at__await_line(at__walk *w, uint64_t resume)
{
    uint32_t line = 0;
    if (resume <= AT_RESUME_DONE || w->size[L_await_line] != sizeof line ||
        at__read(&w->rd, resume + w->off[L_await_line], &line, sizeof line) < 0)
        return 0;
    return line;
}

/* ---- Sites (cached by address: many frames share one) ---- */

typedef struct at__site_info {
    uint64_t addr;
    const char *function, *file;
    uint32_t line, kind;
    uint64_t poll;
    struct at__site_info *next;
} at__site_info;

#define AT__SITE_BUCKETS 1024
typedef struct at__site_cache {
    at__site_info *b[AT__SITE_BUCKETS];
} at__site_cache;

/* The site at addr, read on first sight (at__site_read). */
static const at__site_info *at__site_read(at__walk *w, at__site_cache *sc, uint64_t addr,
                                          size_t h);
static inline const at__site_info *at__site(at__walk *w, at__site_cache *sc, uint64_t addr)
{
    size_t h = (addr >> 4) & (AT__SITE_BUCKETS - 1);
    for (at__site_info *s = sc->b[h]; s; s = s->next)
        if (s->addr == addr)
            return s;
    return at__site_read(w, sc, addr, h);
}

static AT_NOINLINE const at__site_info *at__site_read(at__walk *w, at__site_cache *sc,
                                                      uint64_t addr, size_t h)
{
    _Alignas(16) unsigned char buf[512];
    const unsigned char *rec = at__rec(w, addr, buf, w->rec_size[R_site]);
    if (!rec || at__get(w, rec, L_site_magic) != AT_SITE_MAGIC)
        return NULL;
    at__site_info *s = at_dump_alloc(w->d, sizeof *s);
    if (!s)
        return NULL;
    s->addr = addr;
    s->function = at__dup_str(w, at__get(w, rec, L_site_function));
    s->file = at__dup_str(w, at__get(w, rec, L_site_file));
    s->line = (uint32_t)at__get(w, rec, L_site_line);
    s->kind = (uint32_t)at__get(w, rec, L_site_kind);
    s->poll = at__get(w, rec, L_site_poll);
    if (!s->function)
        s->function = "?";
    if (!s->file)
        s->file = "?";
    s->next = sc->b[h];
    sc->b[h] = s;
    return s;
}

/* ---- Resources ---- */

/* The end of the furthest of fields f..., for reading a record head. */
static uint32_t at__extent(const at__walk *w, const int *fields, size_t n)
{
    uint32_t end = 0;
    for (size_t i = 0; i < n; i++)
        if (w->off[fields[i]] + w->size[fields[i]] > end)
            end = w->off[fields[i]] + w->size[fields[i]];
    return end;
}
#define AT__EXTENT(w, ...)                                                     \
    at__extent((w), (const int[]){__VA_ARGS__},                                \
               sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

static int at__cmp_holder(const void *a, const void *b)
{
    const at_dump_holder *x = a, *y = b;
    return x->task_id < y->task_id ? -1 : x->task_id > y->task_id;
}

/* The rows in use of a holder table (field `table` of record buffer rec),
 * sorted by task id; `untracked` > 0 marks the list truncated. */
static void at__read_holders(at__walk *w, at_dump_resource *r, const unsigned char *rec,
                             int table, uint64_t untracked)
{
    uint32_t hs = w->rec_size[R_holder];
    uint32_t n = hs ? w->size[table] / hs : 0;
    r->holders_truncated = untracked != 0;
    if (!n || hs > 64 || w->off[L_holder_count] + 8 > hs || w->off[L_holder_task_id] + 8 > hs)
        return;
    r->holders = at_dump_alloc(w->d, n * sizeof(at_dump_holder));
    if (!r->holders)
        return;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *row = rec + w->off[table] + i * hs;
        uint64_t count = at__get(w, row, L_holder_count);
        if (!count)
            continue;
        r->holders[r->nholders].task_id = at__get(w, row, L_holder_task_id);
        r->holders[r->nholders++].count = count;
    }
    qsort(r->holders, r->nholders, sizeof(at_dump_holder), at__cmp_holder);
}

/* A mutex: its holder and where the holder took it.  0, or -1 when the
 * record is unreadable or not a mutex. */
static int at__read_mutex(at__walk *w, at__site_cache *sc, at_dump_resource *r)
{
    _Alignas(16) unsigned char buf[512];
    const unsigned char *rec = at__rec(w, r->object, buf,
                                       AT__EXTENT(w, L_mutex_waiters, L_mutex_lock_site,
                                                  L_mutex_lock_line));
    if (!rec || at__get(w, rec, L_mutex_magic) != AT_MUTEX_MAGIC)
        return -1;
    r->owner_id = at__get(w, rec, L_mutex_owner_id);
    r->waiters = (uint32_t)at__get(w, rec, L_mutex_waiters);
    uint64_t site = at__get(w, rec, L_mutex_lock_site);
    const at__site_info *s = site && r->owner_id ? at__site(w, sc, site) : NULL;
    if (s) {
        r->lock_function = s->function;
        r->lock_file = s->file;
        r->lock_line = (uint32_t)at__get(w, rec, L_mutex_lock_line);
    }
    return 0;
}

static void at__read_resource(at__walk *w, at__site_cache *sc, at_dump_resource *r)
{
    _Alignas(16) unsigned char buf[512];
    const unsigned char *rec;
    uint64_t o = r->object;
    switch (r->kind) {
    case AT_RES_MUTEX:
        if (at__read_mutex(w, sc, r) < 0)
            goto bad;
        return;
    case AT_RES_SEMAPHORE:
        if (!(rec = at__rec(w, o, buf, AT__EXTENT(w, L_semaphore_permits, L_semaphore_max_permits,
                                               L_semaphore_untracked, L_semaphore_holders))) ||
            at__get(w, rec, L_semaphore_magic) != AT_SEM_MAGIC)
            goto bad;
        r->permits = at__get(w, rec, L_semaphore_permits);
        r->waiters = (uint32_t)at__get(w, rec, L_semaphore_waiters);
        r->sem_capacity = at__get(w, rec, L_semaphore_max_permits);
        at__read_holders(w, r, rec, L_semaphore_holders, at__get(w, rec, L_semaphore_untracked));
        return;
    case AT_RES_NOTIFY:
        if (!(rec = at__rec(w, o, buf, AT__EXTENT(w, L_notify_waiters, L_notify_last_notifier,
                                               L_notify_notified))) ||
            at__get(w, rec, L_notify_magic) != AT_NOTIFY_MAGIC)
            goto bad;
        r->waiters = (uint32_t)at__get(w, rec, L_notify_waiters);
        r->last_notifier = at__get(w, rec, L_notify_last_notifier);
        r->notified = at__get(w, rec, L_notify_notified);
        return;
    case AT_RES_CHAN_SEND:
    case AT_RES_CHAN_RECV: {
        if (!(rec = at__rec(w, o, buf, AT__EXTENT(w, L_chan_recv_waiters, L_chan_tx_untracked,
                                               L_chan_tx_holders))) ||
            at__get(w, rec, L_chan_magic) != AT_CHAN_MAGIC)
            goto bad;
        uint32_t flags = (uint32_t)at__get(w, rec, L_chan_flags);
        r->capacity = at__get(w, rec, L_chan_capacity);
        r->len = at__get(w, rec, L_chan_len);
        r->senders = at__get(w, rec, L_chan_senders);
        r->rx_task_id = at__get(w, rec, L_chan_rx_task_id);
        r->waiters = (uint32_t)at__get(w, rec, r->kind == AT_RES_CHAN_SEND
                                                     ? L_chan_send_waiters
                                                     : L_chan_recv_waiters);
        r->closed = AT_CHAN_IS_CLOSED(flags);
        at__read_holders(w, r, rec, L_chan_tx_holders, at__get(w, rec, L_chan_tx_untracked));
        return;
    }
    case AT_RES_ONESHOT: {
        if (!(rec = at__rec(w, o, buf, AT__EXTENT(w, L_oneshot_rx_task_id,
                                               L_oneshot_tx_task_id))) ||
            at__get(w, rec, L_oneshot_magic) != AT_ONESHOT_MAGIC)
            goto bad;
        uint32_t flags = (uint32_t)at__get(w, rec, L_oneshot_flags);
        r->rx_task_id = at__get(w, rec, L_oneshot_rx_task_id);
        r->tx_task_id = at__get(w, rec, L_oneshot_tx_task_id);
        r->closed = AT_ONESHOT_IS_CLOSED(flags);
        r->sender_dropped = AT_ONESHOT_SENDER_GONE(flags);
        return;
    }
    case AT_RES_JOIN:
        r->owner_id = r->detail[0];
        return;
    case AT_RES_BLOCKING:
        if (!o) /* not submitted yet */
            return;
        if (!(rec = at__rec(w, o, buf, AT__EXTENT(w, L_blocking_job_magic,
                                               L_blocking_job_tid))) ||
            at__get(w, rec, L_blocking_job_magic) != AT_JOB_MAGIC)
            goto bad;
        r->thread = (int32_t)at__get(w, rec, L_blocking_job_tid);
        return;
    default:
        return;
    }
bad:
    r->error = at_dump_printf(w->d, "corrupt: %s record at 0x%llx unreadable",
                              at_resource_kind_name(r->kind), (unsigned long long)o);
}

/* ---- Await trees ---- */

static at_dump_frame *at__walk_frame(at__walk *w, at__site_cache *sc, uint64_t addr,
                                     unsigned depth, at_dump_frame *out);

/* A leaf frame's wait record, as f's resource. */
static at_dump_frame *at__walk_leaf(at__walk *w, at__site_cache *sc, uint64_t addr,
                                     at_dump_frame *f)
{
    _Alignas(16) unsigned char buf[512];
    const unsigned char *lrec = at__rec(w, addr, buf, w->rec_size[R_leaf]);
    if (!lrec) {
        f->error = at_dump_printf(w->d, "corrupt: leaf 0x%llx unreadable", (unsigned long long)addr);
        return f;
    }
    at_dump_resource *r = at__dump_alloc_raw(w->d, sizeof *r);
    if (r)
        memset(r, 0, sizeof *r);
    if (!r) {
        f->error = "out of memory";
        return f;
    }
    f->resource = r;
    r->kind = (uint32_t)at__get(w, lrec, L_leaf_wait_kind);
    r->flags = (uint32_t)at__get(w, lrec, L_leaf_wait_flags);
    r->object = at__get(w, lrec, L_leaf_wait_object);
    r->since_ns = at__get(w, lrec, L_leaf_wait_since_ns);
    r->detail[0] = at__get(w, lrec, L_leaf_wait_detail0);
    r->detail[1] = r->detail[2] = 0; /* no wait record has them (ABI 3) */
    at__read_resource(w, sc, r);
    return f; /* a leaf's own children (none) are not walked */
}

/* The children of the frame record rec (child, then its siblings), each
 * walked into f->children. */
static at_dump_frame *at__walk_children(at__walk *w, at__site_cache *sc,
                                        const unsigned char *rec, unsigned depth,
                                        at_dump_frame *f)
{
    uint64_t c = at__get(w, rec, L_frame_child);
    size_t n = 0;
    uint64_t addrs[64];
    uint64_t *list = addrs;
    size_t cap = 64;
    while (c && n < AT_SNAPSHOT_MAX_CHILDREN) {
        if (n == cap) {
            uint64_t *nl = at_dump_alloc(w->d, cap * 2 * sizeof(uint64_t));
            if (!nl)
                break;
            memcpy(nl, list, n * sizeof(uint64_t));
            list = nl;
            cap *= 2;
        }
        list[n++] = c;
        _Alignas(16) unsigned char buf[512];
        const unsigned char *crec = at__rec(w, c, buf, w->rec_size[R_frame]);
        if (!crec)
            break; /* reported when the child itself is walked */
        c = at__get(w, crec, L_frame_sibling);
        if (c == list[n - 1] || (n >= 2 && c == list[n - 2]))
            break; /* trivial sibling cycle; deeper ones stop at the cap */
    }
    if (n == AT_SNAPSHOT_MAX_CHILDREN && c)
        f->error = at_dump_printf(w->d, "corrupt: more than %u children", AT_SNAPSHOT_MAX_CHILDREN);
    if (!n)
        return f;
    f->children = at__dump_alloc_raw(w->d, n * sizeof(at_dump_frame)); /* each zeroed when walked */
    if (!f->children)
        return f;
    f->nchildren = n;
    for (size_t i = 0; i < n; i++)
        at__walk_frame(w, sc, list[i], depth + 1, &f->children[i]);
    return f;
}

static at_dump_frame *at__walk_frame(at__walk *w, at__site_cache *sc, uint64_t addr,
                                     unsigned depth, at_dump_frame *f)
{
    _Alignas(16) unsigned char buf[512];
    memset(f, 0, sizeof *f);
    f->address = addr;
    f->function = "?";
    f->file = "?";
    if (depth >= AT_SNAPSHOT_MAX_DEPTH) {
        f->error = at_dump_printf(w->d, "corrupt: await chain deeper than %u", AT_SNAPSHOT_MAX_DEPTH);
        return f;
    }
    int added = at__set_add(&w->seen, addr);
    if (added == 0) {
        f->error = at_dump_printf(w->d, "corrupt: frame 0x%llx appears twice (cycle)",
                                  (unsigned long long)addr);
        return f;
    }
    const unsigned char *rec = at__rec(w, addr, buf, w->rec_size[R_frame]);
    if (!rec) {
        f->error = at_dump_printf(w->d, "corrupt: frame 0x%llx unreadable", (unsigned long long)addr);
        return f;
    }
    const at__site_info *s = at__site(w, sc, at__get(w, rec, L_frame_site));
    if (!s) {
        f->error = at_dump_printf(w->d, "corrupt: frame 0x%llx has no valid site",
                                  (unsigned long long)addr);
        return f;
    }
    f->function = s->function;
    f->file = s->file;
    f->kind = s->kind;
    f->poll = s->poll;
    uint32_t resume = at__await_line(w, at__get(w, rec, L_frame_resume));
    f->line = resume ? resume : s->line;
    if (s->kind == AT_KIND_LEAF)
        return at__walk_leaf(w, sc, addr, f);
    return at__walk_children(w, sc, rec, depth, f);
}

/* ---- Tasks and runtimes ---- */

static int at__walk_task(at__walk *w, at__site_cache *sc, uint64_t addr,
                         const unsigned char *rec, at_dump_task *t)
{
    t->address = addr;
    t->id = at__get(w, rec, L_task_id);
    t->parent_id = at__get(w, rec, L_task_parent_id);
    t->state = (uint32_t)at__get(w, rec, L_task_state);
    t->flags = (uint32_t)at__get(w, rec, L_task_flags);
    t->polls = at__get(w, rec, L_task_poll_count);
    t->created_ns = at__get(w, rec, L_task_created_ns);
    t->state_ns = at__get(w, rec, L_task_state_ns);
    t->poll_start_ns = at__get(w, rec, L_task_poll_start_ns);
    t->poll_end_ns = at__get(w, rec, L_task_poll_end_ns);
    t->worker = (int32_t)at__get(w, rec, L_task_worker);
    size_t nlen = w->size[L_task_name] < AT_TASK_NAME_MAX ? w->size[L_task_name] : AT_TASK_NAME_MAX;
    memcpy(t->name, rec + w->off[L_task_name], nlen);
    t->name[AT_TASK_NAME_MAX - 1] = 0;
    const at__site_info *s = at__site(w, sc, at__get(w, rec, L_task_spawn_site));
    if (s) {
        t->spawn_function = s->function;
        t->spawn_file = s->file;
        t->spawn_line = s->line;
        t->spawn_kind = s->kind;
    }
    uint64_t root = at__get(w, rec, L_task_root);
    if (root && t->state != AT_TASK_COMPLETE && t->state != AT_TASK_CANCELLED) {
        at__set_clear(&w->seen);
        t->await = at__dump_alloc_raw(w->d, sizeof(at_dump_frame)); /* zeroed when walked */
        if (t->await)
            at__walk_frame(w, sc, root, 0, t->await);
    }
    return 0;
}

static int at__cmp_task(const void *a, const void *b)
{
    const at_dump_task *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The runtime's task array, filled from the back: the owned list is
 * newest first, so the tasks usually end up in id order as they are read. */
typedef struct at__task_array {
    at_dump_task *base;
    size_t cap, n; /* tasks are base[cap - n .. cap - 1] */
} at__task_array;

/* The slot for one more task (zeroed), or NULL out of memory. */
static at_dump_task *at__task_slot(at_dump *d, at__task_array *a)
{
    if (a->n == a->cap) {
        at_dump_task *bigger = at__dump_alloc_raw(d, a->cap * 2 * sizeof *bigger);
        if (!bigger)
            return NULL;
        memcpy(bigger + a->cap * 2 - a->n, a->base + a->cap - a->n, a->n * sizeof *bigger);
        a->base = bigger;
        a->cap *= 2;
    }
    at_dump_task *t = &a->base[a->cap - ++a->n];
    memset(t, 0, sizeof *t);
    return t;
}

/* Walk the owned list from `head` into a.  Without a visited set (`set`
 * NULL), a loop is caught by Brent's method (compare with a node saved at
 * each power of two): then, or at the length cap, it returns 1 and the
 * caller walks again with the set, which names the exact node that comes
 * back, so both walks report the same.  0 when done. */
static int at__walk_task_list(at__walk *w, at__site_cache *sc, uint64_t head,
                              at__task_array *a, at_dump_runtime *r, at__set *set)
{
    uint64_t prev = 0, cur = head, mark = 0;
    size_t power = 1, steps = 0;
    while (cur) {
        if (!set && (cur == mark || a->n == AT_SNAPSHOT_MAX_TASKS))
            return 1;
        if (a->n == AT_SNAPSHOT_MAX_TASKS) {
            r->error = at_dump_printf(w->d, "task list longer than %u: cut", AT_SNAPSHOT_MAX_TASKS);
            break;
        }
        if (set && at__set_add(set, cur) == 0) {
            r->error = at_dump_printf(w->d, "corrupt: task list loops back to 0x%llx",
                                      (unsigned long long)cur);
            break;
        }
        if (++steps == power) {
            mark = cur;
            power *= 2;
            steps = 0;
        }
        _Alignas(16) unsigned char buf[512];
        const unsigned char *trec;
        int bad = at__read_magic(w, cur, buf, R_task, L_task_magic, AT_TASK_MAGIC, &trec);
        if (bad) {
            r->error = at_dump_printf(w->d, bad == -1 ? "corrupt: task 0x%llx unreadable (list cut)"
                                                      : "corrupt: task 0x%llx has a bad magic (list cut)",
                                      (unsigned long long)cur);
            break;
        }
        at_dump_task *t = at__task_slot(w->d, a);
        if (!t)
            break;
        at__walk_task(w, sc, cur, trec, t);
        uint64_t back = at__get(w, trec, L_task_owned_prev);
        if (back != prev)
            t->error = (t->flags & AT_TF_IN_FLUX)
                           ? at_dump_printf(w->d, "in-flux: being relinked")
                           : at_dump_printf(w->d, "corrupt: owned_prev 0x%llx, expected 0x%llx",
                                            (unsigned long long)back, (unsigned long long)prev);
        prev = cur;
        cur = at__get(w, trec, L_task_owned_next);
    }
    return 0;
}

static void at__walk_runtime(at__walk *w, at__site_cache *sc, uint64_t addr,
                             const unsigned char *rec, at_dump_runtime *r)
{
    r->address = addr;
    r->id = at__get(w, rec, L_runtime_id);
    r->flavor = (uint32_t)at__get(w, rec, L_runtime_flavor);
    r->workers = (uint32_t)at__get(w, rec, L_runtime_workers);
    r->now_ns = at__get(w, rec, L_runtime_now_ns);
    r->spawned_total = at__get(w, rec, L_runtime_spawned_total);
    uint64_t count = at__get(w, rec, L_runtime_task_count);
    /* Tasks go straight into the arena; the runtime's count (which may be
     * stale or garbage) only sizes the first array. */
    at__task_array a = {NULL, 0, 0};
    a.cap = count < 256 ? 256 : (count > AT_SNAPSHOT_MAX_TASKS ? AT_SNAPSHOT_MAX_TASKS : count + 64);
    a.base = at__dump_alloc_raw(w->d, a.cap * sizeof *a.base);
    if (!a.base) {
        r->error = "out of memory";
        return;
    }
    uint64_t head = at__get(w, rec, L_runtime_owned_head);
    if (at__walk_task_list(w, sc, head, &a, r, NULL)) {
        at__set visited = {0};
        a.n = 0;
        at__walk_task_list(w, sc, head, &a, r, &visited);
        free(visited.slots);
    }
    at_dump_task *tasks = a.base + a.cap - a.n;
    size_t n = a.n;
    /* Read newest first from the back of the array: usually in id order
     * already; sorted only when not. */
    int ascending = 1;
    for (size_t i = 1; i < n && ascending; i++)
        ascending = tasks[i - 1].id < tasks[i].id;
    if (!ascending) { /* back to list order first: equal ids keep it */
        for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
            at_dump_task tmp = tasks[i];
            tasks[i] = tasks[j];
            tasks[j] = tmp;
        }
        qsort(tasks, n, sizeof *tasks, at__cmp_task);
    }
    r->tasks = tasks;
    r->ntasks = n;
}

static int at__cmp_runtime(const void *a, const void *b)
{
    const at_dump_runtime *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int at__cmp_thread(const void *a, const void *b)
{
    const at_dump_thread *x = a, *y = b;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* The id field of the task or runtime record at addr, 0 when there is no
 * live record there. */
static uint64_t at__id_at(at__walk *w, uint64_t addr, int r, int magic_field,
                          uint32_t magic, int id_field)
{
    _Alignas(16) unsigned char buf[512];
    const unsigned char *rec;
    if (!addr || at__read_magic(w, addr, buf, r, magic_field, magic, &rec))
        return 0;
    return at__get(w, rec, id_field);
}

static uint64_t at__task_id_at(at__walk *w, uint64_t task_addr)
{
    return at__id_at(w, task_addr, R_task, L_task_magic, AT_TASK_MAGIC, L_task_id);
}

static uint64_t at__runtime_id_at(at__walk *w, uint64_t rt_addr)
{
    return at__id_at(w, rt_addr, R_runtime, L_runtime_magic, AT_RUNTIME_MAGIC, L_runtime_id);
}

static void at__walk_threads(at__walk *w, uint64_t head)
{
    at_dump *d = w->d;
    size_t cap = 16, n = 0;
    at_dump_thread *th = at_dump_alloc(d, cap * sizeof *th);
    at__set visited = {0};
    for (uint64_t cur = head; cur && th; n++) {
        if (!at__list_step(w, &visited, cur, n, AT_SNAPSHOT_MAX_THREADS, "thread"))
            break;
        _Alignas(16) unsigned char buf[512];
        const unsigned char *rec;
        if (at__read_magic(w, cur, buf, R_context, L_context_magic, AT_CONTEXT_MAGIC, &rec)) {
            at_dump_note(d, "corrupt: thread context 0x%llx unreadable", (unsigned long long)cur);
            break;
        }
        if (at__grow(d, &th, &cap, n, sizeof *th) < 0)
            break;
        at_dump_thread *t = &th[n];
        t->tid = (int32_t)at__get(w, rec, L_context_tid);
        t->role = (uint32_t)at__get(w, rec, L_context_role);
        t->worker = (int32_t)at__get(w, rec, L_context_worker);
        t->runtime_id = at__runtime_id_at(w, at__get(w, rec, L_context_runtime));
        t->current_task_id = at__task_id_at(w, at__get(w, rec, L_context_current));
        t->poll_start_ns = t->current_task_id ? at__get(w, rec, L_context_poll_start_ns) : 0;
        /* Root frames: a short chain on the thread's stack. */
        uint64_t roots[64];
        size_t nr = 0;
        for (uint64_t rf = at__get(w, rec, L_context_active); rf && nr < 64;) {
            _Alignas(16) unsigned char rbuf[512];
            const unsigned char *rrec = at__rec(w, rf, rbuf, w->rec_size[R_root_frame]);
            if (!rrec)
                break;
            roots[nr++] = at__task_id_at(w, at__get(w, rrec, L_root_frame_task));
            uint64_t parent = at__get(w, rrec, L_root_frame_parent);
            if (parent == rf)
                break;
            rf = parent;
        }
        if (nr) {
            t->roots = at_dump_alloc(d, nr * sizeof(at_dump_root));
            if (t->roots) {
                for (size_t i = 0; i < nr; i++)
                    t->roots[i].task_id = roots[i];
                t->nroots = nr;
            }
        }
        cur = at__get(w, rec, L_context_next);
    }
    free(visited.slots);
    if (!th)
        return;
    qsort(th, n, sizeof *th, at__cmp_thread);
    d->threads = th;
    d->nthreads = n;
    /* Which thread polls which task. */
    for (size_t i = 0; i < n; i++)
        if (th[i].current_task_id)
            for (size_t r = 0; r < d->nruntimes; r++)
                for (size_t k = 0; k < d->runtimes[r].ntasks; k++)
                    if (d->runtimes[r].tasks[k].id == th[i].current_task_id)
                        d->runtimes[r].tasks[k].thread = th[i].tid;
}

/* Read and check the descriptor at `descriptor`, then its layout table.
 * 0, or -1 with a note in the dump. */
static int at__read_descriptor(at__walk *w, const void *descriptor, at_debug_descriptor *desc)
{
    at_dump *d = w->d;
    uint64_t daddr = (uint64_t)(uintptr_t)descriptor;
    if (at__read(&w->rd, daddr, desc, sizeof *desc) < 0) {
        at_dump_note(d, "corrupt: descriptor at 0x%llx unreadable", (unsigned long long)daddr);
        return -1;
    }
    if (memcmp(desc->magic, AT_DEBUG_MAGIC, 8) != 0) {
        at_dump_note(d, "corrupt: descriptor magic is wrong (not an asynctrace descriptor)");
        return -1;
    }
    if (desc->abi_version != AT_ABI_VERSION) {
        at_dump_note(d, "ABI version %u is not the version %u this walker reads",
                     desc->abi_version, AT_ABI_VERSION);
        return -1;
    }
    d->generation = desc->generation;
    d->clock_mono_ns = desc->clock_mono_ns;
    d->clock_real_ns = desc->clock_real_ns;
    return at__load_layout(w, (uint64_t)(uintptr_t)desc->layouts, desc->layout_count);
}

/* The runtime list from `head` (only the runtime `only` when not NULL),
 * sorted, into d->runtimes. */
static void at__walk_runtimes(at__walk *w, at__site_cache *sc, uint64_t head,
                              const at_runtime *only)
{
    at_dump *d = w->d;
    size_t cap = 4, n = 0;
    d->runtimes = at_dump_alloc(d, cap * sizeof(at_dump_runtime));
    at__set rts = {0};
    for (uint64_t cur = head; cur && d->runtimes;) {
        if (!at__list_step(w, &rts, cur, n, AT_SNAPSHOT_MAX_RUNTIMES, "runtime"))
            break;
        _Alignas(16) unsigned char buf[512];
        const unsigned char *rec;
        if (at__read_magic(w, cur, buf, R_runtime, L_runtime_magic, AT_RUNTIME_MAGIC, &rec)) {
            at_dump_note(d, "corrupt: runtime 0x%llx unreadable or bad magic", (unsigned long long)cur);
            break;
        }
        if (at__grow(d, &d->runtimes, &cap, n, sizeof *d->runtimes) < 0)
            break;
        if (!only || cur == (uint64_t)(uintptr_t)only)
            at__walk_runtime(w, sc, cur, rec, &d->runtimes[n++]);
        cur = at__get(w, rec, L_runtime_next);
    }
    free(rts.slots);
    d->nruntimes = n;
    if (n)
        qsort(d->runtimes, n, sizeof(at_dump_runtime), at__cmp_runtime);
}

static at_dump *at__snapshot(const void *descriptor, int direct, const at_runtime *only)
{
    at_dump *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->version = AT_TRACE_FORMAT_VERSION;
    d->source = "snapshot";
    d->clock = "live";
    d->now_source = "live";
    d->now_exact = 1;
    d->now_ns = at_now_ns();

    at__walk *w = calloc(1, sizeof *w);
    at__site_cache *sc = calloc(1, sizeof *sc);
    if (!w || !sc) {
        free(w);
        free(sc);
        at_dump_free(d);
        return NULL;
    }
    w->rd.pid = getpid();
    w->rd.direct = direct;
    w->d = d;

    at_debug_descriptor desc;
    if (at__read_descriptor(w, descriptor, &desc) == 0) {
        /* Plain copies are safe only while no runtime or thread context can
         * be freed: both are unlinked and freed under the registry lock.
         * The runtime's own workers are stopped, but a thread outside them
         * (the caller of block_on releasing a join handle) may still free
         * one of its tasks: unlinking takes the owned-list lock, held here
         * for the walk. */
        if (direct) {
            at__registry_lock();
            if (only)
                at__spin_lock(&at__rt((at_runtime *)only)->owned_lock);
            at__walk_runtimes(w, sc, (uint64_t)(uintptr_t)__atomic_load_n(
                                         &asynctrace_debug.runtimes, __ATOMIC_ACQUIRE), only);
            if (only)
                at__spin_unlock(&at__rt((at_runtime *)only)->owned_lock);
            at__walk_threads(w, (uint64_t)(uintptr_t)__atomic_load_n(&asynctrace_debug.threads,
                                                                     __ATOMIC_ACQUIRE));
            at__registry_unlock();
        } else {
            at__walk_runtimes(w, sc, (uint64_t)(uintptr_t)desc.runtimes, only);
            at__walk_threads(w, (uint64_t)(uintptr_t)desc.threads);
        }
    }
    free(w->seen.slots);
    free(w->sites_bad.slots);
    free(w);
    free(sc);
    return d;
}

at_dump *at_snapshot_take_at(const void *descriptor)
{
    return at__snapshot(descriptor, 0, NULL);
}

at_dump *at_snapshot_take(void)
{
    return at__snapshot(&asynctrace_debug, 0, NULL);
}

/* For the live-dump module: the same walk of one runtime over trusted memory
 * (that runtime is stopped at a safe point by the caller, so its tasks cannot
 * change meanwhile; the walk holds its owned-list lock, so none can be
 * unlinked and freed), with plain copies instead of system calls.  Other
 * runtimes are not walked: their tasks may be freed concurrently. */
at_dump *at__snapshot_direct(const at_runtime *rt)
{
    return at__snapshot(&asynctrace_debug, 1, rt);
}
