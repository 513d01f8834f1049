/* time.c - timers: a binary min-heap of sleep futures per runtime
 * (O(log n) insert, cancel and fire), the sleep leaves, and the timeout
 * combinator.  The heap is guarded by the runtime's lock, so sleeps may be
 * polled on any worker thread. */
#include <stdlib.h>

#include "sched/sched.h"

#define AT__NO_INDEX SIZE_MAX

static void at__heap_swap(struct at__timer_heap *h, size_t a, size_t b)
{
    at_sleep_fut *x = h->entries[a];
    h->entries[a] = h->entries[b];
    h->entries[b] = x;
    h->entries[a]->heap_index = a;
    h->entries[b]->heap_index = b;
}

static void at__heap_up(struct at__timer_heap *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->entries[p]->deadline <= h->entries[i]->deadline)
            break;
        at__heap_swap(h, i, p);
        i = p;
    }
}

static void at__heap_down(struct at__timer_heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->len && h->entries[l]->deadline < h->entries[m]->deadline)
            m = l;
        if (r < h->len && h->entries[r]->deadline < h->entries[m]->deadline)
            m = r;
        if (m == i)
            return;
        at__heap_swap(h, i, m);
        i = m;
    }
}

static int at__heap_insert(struct at__timer_heap *h, at_sleep_fut *s)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        at_sleep_fut **e = realloc(h->entries, cap * sizeof(*e));
        if (!e)
            return AT_ENOMEM;
        h->entries = e;
        h->cap = cap;
    }
    /* len is read without the lock (at__timers_fire's fast path). */
    size_t n = h->len;
    s->heap_index = n;
    h->entries[n] = s;
    __atomic_store_n(&h->len, n + 1, __ATOMIC_RELAXED);
    at__heap_up(h, s->heap_index);
    return 0;
}

static void at__heap_remove(struct at__timer_heap *h, at_sleep_fut *s)
{
    size_t i = s->heap_index;
    if (i == AT__NO_INDEX || i >= h->len || h->entries[i] != s)
        return;
    size_t last = h->len - 1;
    __atomic_store_n(&h->len, last, __ATOMIC_RELAXED);
    if (i != last) {
        h->entries[i] = h->entries[last];
        h->entries[i]->heap_index = i;
        at__heap_down(h, i);
        at__heap_up(h, i);
    }
    s->heap_index = AT__NO_INDEX;
}

uint64_t at__timers_fire(at_runtime *rt, uint64_t now)
{
    at__runtime *rs = at__rt(rt);
    struct at__timer_heap *h = &rs->timers;
    if (!__atomic_load_n(&h->len, __ATOMIC_RELAXED))
        return UINT64_MAX;
    at_waker fired[64];
    size_t nfired;
    uint64_t next;
    do {
        nfired = 0;
        pthread_mutex_lock(&rs->lock);
        while (h->len && h->entries[0]->deadline <= now && nfired < 64) {
            at_sleep_fut *s = h->entries[0];
            at__heap_remove(h, s);
            fired[nfired++] = s->waker;
            s->waker.task = NULL;
        }
        next = h->len ? h->entries[0]->deadline : UINT64_MAX;
        pthread_mutex_unlock(&rs->lock);
        for (size_t i = 0; i < nfired; i++)
            at_waker_wake(&fired[i]);
    } while (nfired == 64);
    return next;
}

void at__timers_free(at_runtime *rt)
{
    at__runtime *rs = at__rt(rt);
    struct at__timer_heap *h = &rs->timers;
    pthread_mutex_lock(&rs->lock);
    size_t n = h->len;
    at_sleep_fut **e = h->entries;
    h->entries = NULL;
    __atomic_store_n(&h->len, 0, __ATOMIC_RELAXED);
    h->cap = 0;
    pthread_mutex_unlock(&rs->lock);
    for (size_t i = 0; i < n; i++) {
        e[i]->heap_index = AT__NO_INDEX;
        e[i]->runtime = NULL;
        at_waker_drop(&e[i]->waker);
    }
    free(e);
}

/* ---- Sleep ---- */

static at_poll_result at__sleep_poll(at_frame *f, at_context *cx);
static void at__sleep_drop(at_frame *f);
AT__LEAF_SITE(at__sleep_site, "at_sleep", at__sleep_poll, at__sleep_drop);

at_frame *at_sleep_until(at_sleep_fut *f, uint64_t deadline_ns)
{
    f->deadline = deadline_ns;
    f->heap_index = AT__NO_INDEX;
    f->runtime = NULL;
    f->waker.task = NULL;
    at_frame *fr = at__leaf_init(&f->leaf, &at__sleep_site, AT_RES_SLEEP, NULL);
    f->leaf.wait.detail[0] = deadline_ns;
    return fr;
}

at_frame *at_sleep(at_sleep_fut *f, uint64_t duration_ns)
{
    return at_sleep_until(f, at_now_ns() + duration_ns);
}

AT_NOINLINE static at_poll_result at__sleep_poll(at_frame *fr, at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_sleep_fut *f = (at_sleep_fut *)fr;
    uint64_t now = at_now_ns();
    at_runtime *rt = cx->task ? cx->task->runtime : NULL;
    if (now >= f->deadline || !rt) {
        at__sleep_drop(fr);
        return AT_READY;
    }
    pthread_mutex_lock(&at__rt(rt)->lock);
    if (f->heap_index == AT__NO_INDEX) {
        if (f->waker.task)
            at_waker_drop(&f->waker); /* fired, then polled early: re-arm */
        f->waker = at_waker_clone(cx);
        f->runtime = rt;
        if (at__heap_insert(&at__rt(rt)->timers, f) < 0) {
            /* Out of memory: degrade to a busy re-poll rather than hang. */
            pthread_mutex_unlock(&at__rt(rt)->lock);
            at_waker_drop(&f->waker);
            at__task_wake(cx->task);
            at__leaf_waiting(&f->leaf);
            return AT_PENDING;
        }
    }
    pthread_mutex_unlock(&at__rt(rt)->lock);
    at__leaf_waiting(&f->leaf);
    return AT_PENDING;
}

static void at__sleep_drop(at_frame *fr)
{
    at_sleep_fut *f = (at_sleep_fut *)fr;
    at_runtime *rt = f->runtime;
    /* heap_index moves under the lock (swaps made by other timers' inserts
     * and removals, on any worker): look at it only there. */
    if (rt) {
        pthread_mutex_lock(&at__rt(rt)->lock);
        at__heap_remove(&at__rt(rt)->timers, f);
        pthread_mutex_unlock(&at__rt(rt)->lock);
    }
    f->runtime = NULL;
    at_waker_drop(&f->waker);
}

/* ---- Timeout ---- */

static at_poll_result at__timeout_poll(at_frame *f, at_context *cx);
AT__COMBINATOR_SITE(at__timeout_site, AT_KIND_TIMEOUT, "at_timeout",
                    at__timeout_poll, NULL);

at_frame *at_timeout(at_timeout_fut *f, at_frame *inner, uint64_t duration_ns)
{
    at_frame_init(&f->frame, &at__timeout_site);
    f->inner = inner;
    f->status = 0;
    at_frame *timer = at_sleep(&f->sleep, duration_ns);
    inner->parent = &f->frame;
    inner->sibling = timer;
    timer->parent = &f->frame;
    timer->sibling = NULL;
    f->frame.child = inner;
    return &f->frame;
}

AT_NOINLINE static at_poll_result at__timeout_poll(at_frame *fr, at_context *cx)
{
    at_timeout_fut *f = (at_timeout_fut *)fr;
    if (at_poll(f->inner, cx) == AT_READY) {
        f->status = 0;
        at_frame_drop(&f->sleep.leaf.frame);
        fr->child = NULL;
        return AT_READY;
    }
    if (at_poll(&f->sleep.leaf.frame, cx) == AT_READY) {
        f->status = AT_ETIMEDOUT;
        at_frame_drop(f->inner);
        fr->child = NULL;
        return AT_READY;
    }
    return AT_PENDING;
}
