/* trace_capture.c - the trace collector and the native unwinding behind
 * at_trace_leaf.
 *
 * A capture walks the stack with libunwind from here outwards and keeps the
 * frames strictly between at_trace_leaf and the innermost at_root_poll.  Both
 * ends are recognised by procedure start addresses (libunwind's
 * unw_get_proc_info), never by names, so stripped binaries and static
 * functions trace the same.  libunwind is switched to its per-thread cache
 * (UNW_CACHE_PER_THREAD) on first use.  The collector memoises ip -> procedure start
 * (and start -> name), so a dump of many tasks suspended at the same places
 * pays for each lookup once; the stored backtraces are raw (ip, start) pairs,
 * resolved later by symbolize.c. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace_internal.h"

/* ---- Address map ---- */

static size_t at__addr_hash(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

static int at__addr_map_grow(at__addr_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = calloc(ncap, sizeof(*keys));
    uint64_t *vals = calloc(ncap, sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return AT_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = at__addr_hash(m->keys[i], ncap);
        while (keys[j])
            j = (j + 1) & (ncap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = ncap;
    return 0;
}

/* Key 0 is never stored (it marks empty slots). */
int at__addr_map_put(at__addr_map *m, uint64_t key, uint64_t val)
{
    if (!key)
        return AT_EINVAL;
    if ((m->len + 1) * 2 > m->cap && at__addr_map_grow(m) < 0)
        return AT_ENOMEM;
    size_t i = at__addr_hash(key, m->cap);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->len++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

uint64_t at__addr_map_get(const at__addr_map *m, uint64_t key)
{
    if (!m->cap || !key)
        return 0;
    size_t i = at__addr_hash(key, m->cap);
    while (m->keys[i]) {
        if (m->keys[i] == key)
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return 0;
}

void at__addr_map_free(at__addr_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- Collector ---- */

void at__collector_init(at__collector *c)
{
    memset(c, 0, sizeof(*c));
}

void at__collector_free(at__collector *c)
{
    for (size_t i = 0; i < c->names.cap; i++)
        if (c->names.keys[i])
            free((char *)(uintptr_t)c->names.vals[i]);
    at__addr_map_free(&c->names);
    at__addr_map_free(&c->starts);
    at__cfi_close(c);
    free(c->frames);
    free(c->bts);
    memset(c, 0, sizeof(*c));
}

void at__collector_presize(at__collector *c, size_t tasks)
{
    /* A typical backtrace is under 8 frames; deeper ones grow the array. */
    size_t frames = tasks * 8 + AT__TRACE_MAX_FRAMES, bts = tasks + 16;
    if (frames > c->frames_cap) {
        at__raw_frame *nf = realloc(c->frames, frames * sizeof(*nf));
        if (nf) {
            c->frames = nf;
            c->frames_cap = frames;
        }
    }
    if (bts > c->bts_cap) {
        at__raw_backtrace *nb = realloc(c->bts, bts * sizeof(*nb));
        if (nb) {
            c->bts = nb;
            c->bts_cap = bts;
        }
    }
}

const char *at__collector_name(const at__collector *c, uint64_t start)
{
    return (const char *)(uintptr_t)at__addr_map_get(&c->names, start);
}

static int at__collector_reserve(at__collector *c, size_t frames)
{
    if (c->nframes + frames > c->frames_cap) {
        size_t ncap = c->frames_cap ? c->frames_cap : 256;
        while (ncap < c->nframes + frames)
            ncap *= 2;
        at__raw_frame *nf = realloc(c->frames, ncap * sizeof(*nf));
        if (!nf)
            return AT_ENOMEM;
        c->frames = nf;
        c->frames_cap = ncap;
    }
    if (c->nbts == c->bts_cap) {
        size_t ncap = c->bts_cap ? c->bts_cap * 2 : 64;
        at__raw_backtrace *nb = realloc(c->bts, ncap * sizeof(*nb));
        if (!nb)
            return AT_ENOMEM;
        c->bts = nb;
        c->bts_cap = ncap;
    }
    return 0;
}

/* ---- Unwinding ---- */

/* Procedure start of the cursor's frame, memoised by ip.  Also records the
 * procedure's name the first time a start is seen. */
static uint64_t at__frame_start(at__collector *c, unw_cursor_t *cur, uint64_t ip)
{
    uint64_t start = at__addr_map_get(&c->starts, ip);
    if (start)
        return start;
    unw_proc_info_t pi;
    if (unw_get_proc_info(cur, &pi) < 0 || !pi.start_ip)
        return 0;
    start = (uint64_t)pi.start_ip;
    if (at__addr_map_put(&c->starts, ip, start) < 0)
        c->oom = 1;
    if (!at__addr_map_get(&c->names, start)) {
        char buf[256];
        unw_word_t off;
        if (unw_get_proc_name(cur, buf, sizeof(buf), &off) == 0) {
            char *name = strdup(buf);
            if (name && at__addr_map_put(&c->names, start, (uint64_t)(uintptr_t)name) < 0) {
                free(name);
                c->oom = 1;
            }
        }
    }
    return start;
}

/* The walk with a libunwind cursor: unw_step frame by frame, the procedure
 * start of each from unw_get_proc_info (and its name from
 * unw_get_proc_name), memoised by ip.  Exact, but libunwind takes its cache
 * lock, with every signal blocked (two sigprocmask system calls), on every
 * step; so it runs only for stacks with an ip not seen before. */
static void at__capture_walk(at__collector *c, at__raw_backtrace *bt, uint64_t leaf_start,
                             uint64_t root_start)
{
    unw_context_t uc;
    unw_cursor_t cur;
    if (unw_getcontext(&uc) < 0 || unw_init_local(&cur, &uc) < 0)
        return;
    int past_leaf = 0;
    do {
        unw_word_t ipw;
        if (unw_get_reg(&cur, UNW_REG_IP, &ipw) < 0 || !ipw)
            break;
        uint64_t start = at__frame_start(c, &cur, (uint64_t)ipw);
        if (!past_leaf) {
            past_leaf = start == leaf_start;
            continue;
        }
        if (start == root_start) {
            bt->flags &= ~AT__BT_NO_ROOT;
            break;
        }
        if (bt->count == AT__TRACE_MAX_FRAMES) {
            bt->flags |= AT__BT_CUT;
            break;
        }
        c->frames[bt->first + bt->count].ip = (uint64_t)ipw;
        c->frames[bt->first + bt->count].start = start;
        bt->count++;
    } while (unw_step(&cur) > 0);
}

/* The same frames from libunwind's unw_backtrace (its fast trace, which
 * caches each return address's frame layout per thread and takes no lock),
 * when every ip above the leaf is already in the memo.  ips[0] is in this
 * file's at__trace_capture, ips[1] must be at_trace_leaf's frame.  Returns
 * how many ips it used (up to and including at_root_poll's) when bt is
 * complete, 0 when the cursor walk must decide. */
static int at__capture_known(at__collector *c, at__raw_backtrace *bt, void **ips, int n,
                             uint64_t leaf_start, uint64_t root_start)
{
    if (c->last_used && n >= c->last_used &&
        !memcmp(&ips[1], &c->last_ips[1], (size_t)(c->last_used - 1) * sizeof(uint64_t))) {
        const at__raw_backtrace *last = &c->bts[c->last_bt];
        memcpy(&c->frames[bt->first], &c->frames[last->first], last->count * sizeof(at__raw_frame));
        bt->count = last->count;
        bt->flags = last->flags;
        return c->last_used;
    }
    if (n < 2 || at__addr_map_get(&c->starts, (uint64_t)(uintptr_t)ips[1]) != leaf_start)
        return 0;
    for (int i = 2; i < n; i++) {
        uint64_t ip = (uint64_t)(uintptr_t)ips[i];
        uint64_t start = at__addr_map_get(&c->starts, ip);
        if (!start)
            return 0;
        if (start == root_start) {
            bt->flags &= ~AT__BT_NO_ROOT;
            return i + 1;
        }
        if (bt->count == AT__TRACE_MAX_FRAMES) {
            bt->flags |= AT__BT_CUT;
            return i + 1;
        }
        c->frames[bt->first + bt->count].ip = ip;
        c->frames[bt->first + bt->count].start = start;
        bt->count++;
    }
    return 0;
}

/* The return addresses of this stack as unw_backtrace gives them (ips[0]
 * in at__trace_capture, ips[1] in at_trace_leaf, ... up to and including
 * the one in at_root_poll), read by following saved frame pointers: exact
 * when every function on the way keeps a standard frame pointer at its
 * call (its call frame information says so, cfi_rule.c), which is checked
 * before each step.  Every read lies between this frame and `limit` (the
 * root frame record, on this thread's stack in at_root_poll's frame) and
 * the frames must go strictly up.  Returns how many ips it found, or 0
 * when the stack cannot be read this way (libunwind then walks it). */
static AT_NOINLINE int at__capture_fp(at__collector *c, void **ips, uint64_t root_start,
                                      uintptr_t limit)
{
    const uintptr_t lo = (uintptr_t)__builtin_frame_address(0);
    uintptr_t fp = lo;
    /* Along the previous stack read this way, its checks still hold. */
    int same = c->last_fp;
    for (int k = 0; k < AT__TRACE_MAX_FRAMES + 2; k++) {
        if ((fp & 7) || fp < lo || fp > limit || limit - fp < 16)
            return 0;
        const uintptr_t *frame = (const uintptr_t *)fp;
        uint64_t ra = frame[1];
        ips[k] = (void *)(uintptr_t)ra;
        if (same && k < c->last_used && ra == c->last_ips[k]) {
            if (k == c->last_used - 1)
                return k + 1; /* at_root_poll's, as last time */
            fp = frame[0] > fp ? frame[0] : 0;
            if (!fp)
                return 0;
            continue;
        }
        same = 0;
        if (k >= 2) {
            uint64_t start = at__addr_map_get(&c->starts, ra);
            if (!start)
                return 0;
            if (start == root_start)
                return k + 1;
        }
        if (!at__keeps_frame_pointer(c, ra))
            return 0;
        uintptr_t next = frame[0];
        if (next <= fp)
            return 0;
        fp = next;
    }
    return 0;
}

void at__trace_capture(at_context *cx)
{
    at__collector *c = cx->thread->collector;
    const uint64_t leaf_start = (uint64_t)(uintptr_t)at_trace_leaf;
    /* The innermost root frame names the root poll function (its
     * inner_addr), so this layer needs no link to the scheduler's. */
    const at_root_frame *rf = cx->thread->active;
    const uint64_t root_start = rf ? (uint64_t)(uintptr_t)rf->inner_addr : 0;
    if (at__collector_reserve(c, AT__TRACE_MAX_FRAMES) < 0) {
        c->oom = 1;
        return;
    }
    at__raw_backtrace *bt = &c->bts[c->nbts];
    bt->first = c->nframes;
    bt->count = 0;
    bt->slot = c->slot;
    bt->flags = AT__BT_NO_ROOT;
    bt->pad = 0;

    int used = 0;
    void *ips[AT__TRACE_MAX_FRAMES + 2];
#ifndef __SANITIZE_THREAD__
    /* Frame pointers first, once the memo knows addresses (the first stack
     * of a dump is always walked by libunwind), when every frame on the way
     * keeps a standard frame pointer; libunwind otherwise. */
    int by_fp = 0;
    if (rf && c->starts.len) {
        int n = at__capture_fp(c, ips, root_start, (uintptr_t)rf);
        if (n)
            used = by_fp = at__capture_known(c, bt, ips, n, leaf_start, root_start);
        if (!used) {
            bt->count = 0;
            bt->flags = AT__BT_NO_ROOT;
        }
    }
    /* unw_backtrace walks as many frames as it is given room for, and the
     * frames below at_root_poll (the scheduler, main) are of no use: ask for
     * the deepest stack seen so far first, and for all only if that is short. */
    const int all = (int)(sizeof(ips) / sizeof(*ips));
    int want = c->depth_hint ? c->depth_hint : all;
    while (!used) {
        int n = unw_backtrace(ips, want);
        used = at__capture_known(c, bt, ips, n, leaf_start, root_start);
        if (used || n < want || want == all)
            break;
        bt->count = 0;
        bt->flags = AT__BT_NO_ROOT;
        want = all;
    }
#else
    /* libunwind frees its per-thread trace cache in a thread-exit destructor
     * that runs after ThreadSanitizer has finalised the thread, and crashes
     * there: ThreadSanitizer builds always take the cursor walk. */
    (void)at__capture_known;
    (void)at__capture_fp;
    int by_fp = 0;
#endif
    if (!used) {
        bt->count = 0;
        bt->flags = AT__BT_NO_ROOT;
        at__capture_walk(c, bt, leaf_start, root_start);
    } else {
        if (used > c->depth_hint)
            c->depth_hint = used;
        /* Remembered for the next capture (at__capture_known). */
        memcpy(c->last_ips, ips, (size_t)used * sizeof(uint64_t));
        c->last_used = used;
        c->last_bt = c->nbts;
        c->last_fp = by_fp != 0;
    }
    c->nframes += bt->count;
    c->nbts++;
}

int at__trace_capture_run(at_trace_context *tcx, at__collector *c,
                          int (*fn)(void *), void *arg)
{
    void *saved = tcx->collector;
    at__trace_begin();
    __atomic_store_n(&tcx->collector, c, __ATOMIC_RELEASE);
    int r = fn(arg);
    __atomic_store_n(&tcx->collector, saved, __ATOMIC_RELEASE);
    at__trace_end();
    return r;
}
