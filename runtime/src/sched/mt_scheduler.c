/* mt_scheduler.c - the multi-thread flavor: N worker threads, each with a
 * bounded local run queue and a LIFO slot, a global injection queue, work
 * stealing, parking on a futex (or in the I/O driver), multi-thread
 * block_on, and the stop-the-world barrier that live dumps use.
 *
 * Where a SCHEDULED task waits (docs/runtime.md, "Multi-thread flavor"):
 *  - a worker's LIFO slot: a task woken by the task this worker is polling
 *    runs next on the same worker (message passing stays on one core).  At
 *    most AT__LIFO_MAX such polls in a row, then the slot's task goes to the
 *    back of the local queue.  Other workers never steal the slot;
 *  - a worker's local queue: a ring of AT__LQ_CAP pointers.  Only its owner
 *    pushes (at the tail); the owner and thieves pop at the head with a
 *    compare-and-swap, so each queued task is taken exactly once.  Tasks
 *    spawned or woken on a worker go there; a full queue moves half of
 *    itself to the injection queue;
 *  - the injection queue: a mutex-protected list for wakes and spawns from
 *    threads that are not workers of this runtime.
 * A worker takes from its LIFO slot, its queue, the injection queue (every
 * AT__INJECT_EVERY polls first, so it is never starved), then steals half
 * of another worker's queue - but only when that worker does not keep up
 * with it (see "Stealing only what waits" below).  Finding nothing, it
 * parks: the first worker to park waits in epoll_wait (the I/O driver, with
 * the next timer deadline as timeout); the others sleep on a futex.
 *
 * Stealing only what waits: a task woken by a task of this worker (a
 * channel's producer woken by its consumer, a ping-pong partner) is usually
 * polled by this worker within microseconds.  Taken by another worker, it
 * runs at the same time as the task it talks to, and every message then
 * moves the channel's cache lines and lock between the cores: fan-in 8->1
 * ran 5-7 times slower on two workers than on one.  So a local queue's
 * tasks carry the time they were queued, the queue the time its owner last
 * took a task from it, and thieves leave a queue alone until either its
 * owner has taken nothing from it for AT__STEAL_STALL_NS while its head
 * waited (the owner is stuck in a long poll, or not running), or its head
 * has waited AT__STEAL_AGE_NS (a backlog the owner works through too
 * slowly).  A worker that parks while some queue holds tasks it may not
 * steal yet parks as a "lookout", with a deadline when the first of them
 * may be stolen, so that pushes to local queues need not wake anybody
 * meanwhile.  The injection queue is never subject to this: its tasks are
 * taken at once.
 *
 * Lost wake-ups: a producer publishes the task, then (seq_cst fence) looks
 * for a sleeping worker; a worker about to sleep registers as a sleeper,
 * then (seq_cst fence) looks at the queues once more.  One of the two sees
 * the other.  At most one "searching" worker is woken at a time: while one
 * is searching, producers wake nobody; a searcher that finds work wakes the
 * next sleeper if work remains. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sched/mt_internal.h"

#define AT__LQ_CAP 256u
#define AT__LQ_MASK (AT__LQ_CAP - 1)
#define AT__LIFO_MAX 3
#define AT__INJECT_EVERY 61
#define AT__MAX_WORKERS 256
/* When another worker may steal from a local queue (see the top): its
 * owner took nothing from it for AT__STEAL_STALL_NS while the head waited,
 * or the head waited AT__STEAL_AGE_NS.  The first bounds the extra wait of
 * a task queued behind a long poll.  In a fan-in the owner takes a task
 * every few tens of microseconds (its loop clock, which stamps both, may
 * lag by up to AT__TSC_FRESH cycles: ~50 us at 2.4 GHz). */
#define AT__STEAL_STALL_NS (200 * AT_US)
#define AT__STEAL_AGE_NS (2 * AT_MS)

enum { AT__PARK_EMPTY, AT__PARK_SLEEP, AT__PARK_DRIVER, AT__PARK_NOTIFIED };

typedef struct at__lq {
    _Alignas(64) _Atomic uint32_t head; /* consumers: owner and thieves */
    _Atomic uint64_t popped_ns;         /* the owner last took a task (owner) */
    _Alignas(64) _Atomic uint32_t tail; /* producer: the owner only */
    at_task *_Atomic buf[AT__LQ_CAP];
    /* When each slot's task was queued (monotonic ns, never later than the
     * truth): thieves read the head's (see "Stealing only what waits"). */
    _Atomic uint64_t since[AT__LQ_CAP];
} at__lq;

typedef struct at__mt at__mt;

typedef struct at__worker {
    at__lq q;
    _Alignas(64) at_task *_Atomic lifo;
    _Atomic uint32_t park;          /* AT__PARK_*: the futex word */
    at__mt *mt;
    unsigned index;
    pthread_t thread;
    at_trace_context *_Atomic tcx;
    uint32_t tick, lifo_streak;
    uint64_t loop_ns;               /* the loop's clock between polls (owner) */
    uint64_t rng;
    int seeded;                     /* ASYNCTRACE_SCHED_SEED: shuffle (seed.c) */
    /* Under mt->idle_lock while the worker is on the sleeper stack; the
     * worker's own otherwise. */
    int searching;
    int sleeping;
    /* Under mt->stop_lock. */
    int stopped;
    int started;
} at__worker;

struct at__mt {
    at_runtime *rt;
    unsigned n;
    at__worker *w;
    /* Injection queue. */
    pthread_mutex_t inj_lock;
    at_task *inj_head, *inj_tail;
    _Atomic size_t inj_len;
    _Atomic uint32_t handshake;     /* at__park_handshake under TSan only */
    /* Idle workers: a stack of sleeper indexes. */
    pthread_mutex_t idle_lock;
    unsigned *sleepers;
    unsigned nsleepers;
    _Atomic uint32_t num_searching, num_sleeping;
    /* Parked workers with a deadline: the time the oldest young task of
     * some local queue becomes stealable (at__park_worker). */
    _Atomic uint32_t num_lookout;
    _Atomic int shutdown;
    /* block_on callers wait here. */
    pthread_mutex_t done_lock;
    pthread_cond_t done_cv;
    /* Stop-the-world. */
    pthread_mutex_t dump_lock;      /* one dump at a time */
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cv;
    _Atomic int stop;               /* workers must come to the barrier */
    _Atomic(at__worker *) leader;   /* the worker running the dump */
    _Atomic int dumping;            /* a worker is serving a dump */
    uint64_t stop_gen;
    unsigned arrived;
    at_task **stuck_tasks;          /* per worker: task it polls, if stuck */
};

static __thread at__worker *at__cur_worker;

static void at__mt_shutdown(at_runtime *rt);
static void at__mt_free(at_runtime *rt);
static void at__mt_runq_push(at_runtime *rt, at_task *t);

static at__mt *at__mt_of(at_runtime *rt) { return (at__mt *)at__rt(rt)->sched; }

/* ====================================================================== */
/* Local queue                                                            */
/* ====================================================================== */

static uint32_t at__lq_len(at__lq *q)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    return t - h;
}

/* Any consumer (owner or thief). */
static at_task *at__lq_pop(at__lq *q)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    for (;;) {
        uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (h == t)
            return NULL;
        at_task *task = atomic_load_explicit(&q->buf[h & AT__LQ_MASK], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return task;
    }
}

static void at__inject_push_list(at__mt *mt, at_task *head, at_task *tail, size_t n);
static void at__notify_parked(at__mt *mt);

/* Owner only; `since`: when the task was queued.  A full queue moves
 * half of itself, then t, to the injection queue: returns 1 then. */
static int at__lq_push(at__mt *mt, at__lq *q, at_task *task, uint64_t since)
{
    for (;;) {
        uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        if (t - h < AT__LQ_CAP) {
            atomic_store_explicit(&q->buf[t & AT__LQ_MASK], task, memory_order_relaxed);
            atomic_store_explicit(&q->since[t & AT__LQ_MASK], since, memory_order_relaxed);
            atomic_store_explicit(&q->tail, t + 1, memory_order_release);
            return 0;
        }
        /* Full: claim the older half (link them only once they are ours:
         * a thief may take some first). */
        uint32_t n = AT__LQ_CAP / 2;
        at_task *half[AT__LQ_CAP / 2];
        for (uint32_t i = 0; i < n; i++)
            half[i] = atomic_load_explicit(&q->buf[(h + i) & AT__LQ_MASK], memory_order_relaxed);
        if (!atomic_compare_exchange_strong_explicit(&q->head, &h, h + n, memory_order_acq_rel,
                                                     memory_order_acquire))
            continue; /* a thief took some: there may be room now */
        for (uint32_t i = 0; i + 1 < n; i++)
            half[i]->run_next = half[i + 1];
        at_task *first = half[0], *last = half[n - 1];
        task->run_next = NULL;
        last->run_next = task;
        at__inject_push_list(mt, first, task, n + 1);
        return 1;
    }
}

/* When another worker may steal from q (UINT64_MAX: q is empty).  Racy
 * reads: a stale stamp only moves a steal a little. */
static uint64_t at__lq_ready_at(at__lq *q)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (h == t)
        return UINT64_MAX;
    uint64_t since = atomic_load_explicit(&q->since[h & AT__LQ_MASK], memory_order_relaxed);
    uint64_t popped = atomic_load_explicit(&q->popped_ns, memory_order_relaxed);
    uint64_t stalled = (popped > since ? popped : since) + AT__STEAL_STALL_NS;
    uint64_t aged = since + AT__STEAL_AGE_NS;
    return stalled < aged ? stalled : aged;
}

/* Thief: move about half of src into dst (whose owner is the caller, dst
 * empty) and return one of them; nothing before at__lq_ready_at(src). */
static at_task *at__lq_steal(at__lq *src, at__lq *dst, uint64_t now)
{
    uint32_t dt = atomic_load_explicit(&dst->tail, memory_order_relaxed);
    if (at__lq_ready_at(src) > now)
        return NULL;
    for (;;) {
        uint32_t h = atomic_load_explicit(&src->head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&src->tail, memory_order_acquire);
        uint32_t n = t - h;
        if (n == 0)
            return NULL;
        if (n > AT__LQ_CAP)
            continue; /* torn view: head moved between the loads */
        n -= n / 2;
        for (uint32_t i = 0; i < n; i++) {
            at_task *x = atomic_load_explicit(&src->buf[(h + i) & AT__LQ_MASK], memory_order_relaxed);
            uint64_t since = atomic_load_explicit(&src->since[(h + i) & AT__LQ_MASK],
                                                  memory_order_relaxed);
            atomic_store_explicit(&dst->buf[(dt + i) & AT__LQ_MASK], x, memory_order_relaxed);
            atomic_store_explicit(&dst->since[(dt + i) & AT__LQ_MASK], since, memory_order_relaxed);
        }
        if (!atomic_compare_exchange_strong_explicit(&src->head, &h, h + n, memory_order_acq_rel,
                                                     memory_order_acquire))
            continue;
        at_task *ret = atomic_load_explicit(&dst->buf[(dt + n - 1) & AT__LQ_MASK], memory_order_relaxed);
        if (n > 1)
            atomic_store_explicit(&dst->tail, dt + n - 1, memory_order_release);
        return ret;
    }
}

/* ====================================================================== */
/* Injection queue                                                        */
/* ====================================================================== */

static void at__inject_push_list(at__mt *mt, at_task *head, at_task *tail, size_t n)
{
    pthread_mutex_lock(&mt->inj_lock);
    at__taskq_append(&mt->inj_head, &mt->inj_tail, head, tail);
    atomic_fetch_add(&mt->inj_len, n);
    pthread_mutex_unlock(&mt->inj_lock);
}

/* Take up to `max` tasks: the first is returned, the others go to w's
 * local queue (which has room: it is empty when this is called with
 * max > 1). */
static at_task *at__inject_pop(at__mt *mt, at__worker *w, size_t max)
{
    if (!atomic_load_explicit(&mt->inj_len, memory_order_acquire))
        return NULL;
    pthread_mutex_lock(&mt->inj_lock);
    at_task *first = mt->inj_head;
    size_t k = 0;
    if (first) {
        size_t len = atomic_load_explicit(&mt->inj_len, memory_order_relaxed);
        size_t fair = len / mt->n + 1;
        if (max > fair)
            max = fair;
        mt->inj_head = first->run_next;
        k = 1;
        while (k < max && mt->inj_head) {
            at_task *x = mt->inj_head;
            mt->inj_head = x->run_next;
            x->run_next = NULL;
            at__lq_push(mt, &w->q, x, w->loop_ns);
            k++;
        }
        if (!mt->inj_head)
            mt->inj_tail = NULL;
        first->run_next = NULL;
        atomic_fetch_sub(&mt->inj_len, k);
    }
    pthread_mutex_unlock(&mt->inj_lock);
    return first;
}

/* ====================================================================== */
/* Parking                                                                */
/* ====================================================================== */

/* Sleep while *addr == val, until the monotonic deadline (UINT64_MAX:
 * none).  Spurious returns are fine: callers loop. */
static void at__futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline)
{
    struct timespec ts, *tsp = NULL;
    if (deadline != UINT64_MAX) {
        ts.tv_sec = (time_t)(deadline / AT_SEC);
        ts.tv_nsec = (long)(deadline % AT_SEC);
        tsp = &ts;
    }
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, val, tsp, NULL,
            FUTEX_BITSET_MATCH_ANY);
}

static void at__futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void at__unpark(at__worker *w)
{
    uint32_t old = atomic_exchange(&w->park, AT__PARK_NOTIFIED);
    if (old == AT__PARK_SLEEP)
        at__futex_wake(&w->park);
    else if (old == AT__PARK_DRIVER)
        at__io_wake(w->mt->rt);
}

/* Pop a sleeper and wake it as a searcher.  Lock held. */
static at__worker *at__pop_sleeper_locked(at__mt *mt)
{
    if (!mt->nsleepers)
        return NULL;
    at__worker *w = &mt->w[mt->sleepers[--mt->nsleepers]];
    w->sleeping = 0;
    w->searching = 1;
    atomic_fetch_sub(&mt->num_sleeping, 1);
    atomic_fetch_add(&mt->num_searching, 1);
    return w;
}

/* The park/wake handshake (Dekker): a parking worker counts itself in
 * num_sleeping, then looks for work; a notifier publishes work, then looks
 * at num_sleeping.  A seq_cst fence between the two steps on each side
 * makes at least one of them see the other.  ThreadSanitizer does not model
 * fences, so under it both sides instead do a seq_cst read-modify-write of
 * one shared word: those are totally ordered and the later one reads from
 * the earlier, which orders the two sides in a way TSan tracks.  (Only
 * there: on the hot enqueue path a shared RMW would bounce a cache line.) */
static inline void at__park_handshake(at__mt *mt)
{
#if defined(__SANITIZE_THREAD__)
    atomic_fetch_add(&mt->handshake, 1);
#else
    (void)mt;
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

static void at__wake_sleeper(at__mt *mt);

/* New work was published: wake a sleeping worker unless one is searching. */
static void at__notify_parked(at__mt *mt)
{
    at__park_handshake(mt);
    if (atomic_load_explicit(&mt->num_searching, memory_order_relaxed) ||
        !atomic_load_explicit(&mt->num_sleeping, memory_order_relaxed))
        return;
    at__wake_sleeper(mt);
}

/* A worker queued a task on its own local queue: as at__notify_parked,
 * except that nobody is woken while a lookout watches the local queues (it
 * wakes by itself when their oldest task becomes stealable). */
static void at__notify_local(at__mt *mt)
{
    at__park_handshake(mt);
    if (atomic_load_explicit(&mt->num_lookout, memory_order_relaxed) ||
        atomic_load_explicit(&mt->num_searching, memory_order_relaxed) ||
        !atomic_load_explicit(&mt->num_sleeping, memory_order_relaxed))
        return;
    at__wake_sleeper(mt);
}

static void at__wake_sleeper(at__mt *mt)
{
    pthread_mutex_lock(&mt->idle_lock);
    at__worker *w = NULL;
    if (!atomic_load(&mt->num_searching))
        w = at__pop_sleeper_locked(mt);
    pthread_mutex_unlock(&mt->idle_lock);
    if (w)
        at__unpark(w);
}

static void at__unpark_all(at__mt *mt)
{
    for (unsigned i = 0; i < mt->n; i++)
        at__unpark(&mt->w[i]);
}

/* Anything a parking worker must not sleep through.  Other workers'
 * queues count once their head may be stolen; until then *young (if not
 * NULL) is lowered to the time when it may. */
static int at__work_visible(at__mt *mt, at__worker *w, uint64_t now, uint64_t *young)
{
    if (atomic_load(&mt->inj_len) || atomic_load(&mt->stop) || atomic_load(&mt->shutdown))
        return 1;
    /* A queued dump is work once it is due (bounded serving, see
     * dump_request.c); until then the worker may park until it is. */
    uint64_t due = at__dump_due_ns(mt->rt);
    if (due != UINT64_MAX && at_now_ns() >= due)
        return 1;
    if (atomic_load(&w->lifo))
        return 1;
    if (at__lq_len(&w->q))
        return 1;
    for (unsigned i = 0; i < mt->n; i++) {
        uint64_t ready = &mt->w[i] == w ? UINT64_MAX : at__lq_ready_at(&mt->w[i].q);
        if (ready <= now)
            return 1;
        if (young && ready < *young)
            *young = ready;
    }
    return 0;
}

/* The searcher found work: stop searching; the last searcher wakes the
 * next sleeper when work remains, so parallelism ramps up. */
static void at__found_work(at__worker *w)
{
    if (!w->searching)
        return;
    w->searching = 0;
    at__mt *mt = w->mt;
    if (atomic_fetch_sub(&mt->num_searching, 1) != 1)
        return;
    if (atomic_load(&mt->inj_len))
        at__notify_parked(mt);
    else if (at__lq_len(&w->q))
        at__notify_local(mt);
}

/* Fire due timers and poll the I/O driver without waiting. */
static void at__maintenance(at__mt *mt)
{
    at_runtime *rt = mt->rt;
    uint64_t now = at_now_ns();
    __atomic_store_n(&rt->now_ns, now, __ATOMIC_RELAXED);
    at__record_clock(now);
    at__timers_fire(rt, now);
    if (at__rt(rt)->driver)
        at__io_turn(rt, 0);
}

static int at__own_work(at__worker *w)
{
    return at__lq_len(&w->q) || atomic_load(&w->lifo);
}

/* The earliest of `until`, the next timer (firing the due ones) and the
 * next dump that falls due. */
static uint64_t at__park_deadline(at_runtime *rt, uint64_t until)
{
    uint64_t next = at__timers_fire(rt, at_now_ns());
    uint64_t due = at__dump_due_ns(rt);
    next = due < next ? due : next;
    return until < next ? until : next;
}

/* Sleep until woken, `until`, a timer is due, or (in the driver) an fd is
 * ready.  The first worker to get here waits in the I/O driver with that
 * deadline as its timeout; the others sleep on their futex, also until it,
 * so a timer armed while the driver waits is never missed. */
static void at__park_sleep(at__worker *w, uint64_t until)
{
    at_runtime *rt = w->mt->rt;
    uint32_t e = AT__PARK_EMPTY;
    if (at__io_acquire(rt)) {
        if (atomic_compare_exchange_strong(&w->park, &e, AT__PARK_DRIVER)) {
            uint64_t next = at__park_deadline(rt, until);
            if (!at__own_work(w))
                at__io_turn_locked(rt, next);
        }
        at__io_release(rt);
        return;
    }
    uint64_t next = at__park_deadline(rt, until);
    if (at__own_work(w) || !atomic_compare_exchange_strong(&w->park, &e, AT__PARK_SLEEP))
        return;
    while (atomic_load(&w->park) == AT__PARK_SLEEP) {
        at__futex_wait(&w->park, AT__PARK_SLEEP, next);
        if (next != UINT64_MAX && at_now_ns() >= next)
            break;
    }
}

/* Park: register as a sleeper, look for work once more, sleep.  While
 * other workers' queues hold tasks too young to steal, sleep as a lookout
 * until the oldest of them may be stolen (see the top). */
static void at__park_worker(at__worker *w)
{
    at__mt *mt = w->mt;

    pthread_mutex_lock(&mt->idle_lock);
    mt->sleepers[mt->nsleepers++] = w->index;
    w->sleeping = 1;
    atomic_fetch_add(&mt->num_sleeping, 1);
    int was_searching = w->searching;
    w->searching = 0;
    pthread_mutex_unlock(&mt->idle_lock);
    if (was_searching)
        atomic_fetch_sub(&mt->num_searching, 1);
    at__park_handshake(mt);

    uint64_t young = UINT64_MAX;
    if (!at__work_visible(mt, w, at_now_ns(), &young)) {
        int lookout = young != UINT64_MAX;
        if (lookout)
            atomic_fetch_add(&mt->num_lookout, 1);
        at__park_sleep(w, young);
        if (lookout)
            atomic_fetch_sub(&mt->num_lookout, 1);
    }
    /* Consumes a notification too (whoever set it has woken us or will
     * find us awake). */
    atomic_store(&w->park, AT__PARK_EMPTY);

    pthread_mutex_lock(&mt->idle_lock);
    if (w->sleeping) {
        for (unsigned i = 0; i < mt->nsleepers; i++)
            if (mt->sleepers[i] == w->index) {
                mt->sleepers[i] = mt->sleepers[--mt->nsleepers];
                break;
            }
        w->sleeping = 0;
        atomic_fetch_sub(&mt->num_sleeping, 1);
    }
    pthread_mutex_unlock(&mt->idle_lock);
}

/* ====================================================================== */
/* Enqueue                                                                */
/* ====================================================================== */

static void at__mt_enqueue(at_runtime *rt, at_task *t)
{
    at__mt *mt = at__mt_of(rt);
    at__worker *w = at__cur_worker;
    if (w && w->mt == mt) {
        at_trace_context *tcx = atomic_load_explicit(&w->tcx, memory_order_relaxed);
        /* Woken by the task this worker polls (not spawned: never polled):
         * run it next, on this worker. */
        if (tcx->current && t->poll_count && !atomic_load(&mt->stop)) {
            at_task *prev = atomic_exchange(&w->lifo, t);
            if (!prev)
                return;
            t = prev;
        }
        uint64_t since = tcx->current ? tcx->poll_start_ns : w->loop_ns;
        if (at__lq_push(mt, &w->q, t, since))
            at__notify_parked(mt); /* half of the queue went to the injection queue */
        else
            at__notify_local(mt);
        return;
    }
    t->run_next = NULL;
    at__inject_push_list(mt, t, t, 1);
    at__notify_parked(mt);
}

static void at__mt_unpark(at_runtime *rt)
{
    at__unpark_all(at__mt_of(rt));
}

/* ====================================================================== */
/* Workers                                                                */
/* ====================================================================== */

static at_task *at__steal(at__worker *w)
{
    at__mt *mt = w->mt;
    if (mt->n < 2)
        return NULL;
    /* Become a searcher unless half the awake workers already are. */
    if (!w->searching) {
        uint32_t s = atomic_load(&mt->num_searching);
        uint32_t awake = mt->n - atomic_load(&mt->num_sleeping);
        if (2 * s >= awake)
            return NULL;
        w->searching = 1;
        atomic_fetch_add(&mt->num_searching, 1);
    }
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    unsigned start = (unsigned)(w->rng % mt->n);
    uint64_t now = at_now_ns();
    for (unsigned i = 0; i < mt->n; i++) {
        at__worker *v = &mt->w[(start + i) % mt->n];
        if (v == w)
            continue;
        at_task *t = at__lq_steal(&v->q, &w->q, now);
        if (t)
            return t;
    }
    return at__inject_pop(mt, w, AT__LQ_CAP / 2);
}

/* Seeded schedules (best effort): move a random number of the queue's
 * tasks from its head to its tail, so the next pop takes a random one. */
static void at__lq_shuffle(at__mt *mt, at__worker *w)
{
    uint32_t n = at__lq_len(&w->q);
    if (n < 2)
        return;
    for (uint32_t k = (uint32_t)(at__sched_rand(&w->rng) % n); k; k--) {
        at_task *t = at__lq_pop(&w->q);
        if (!t)
            return;
        at__lq_push(mt, &w->q, t, w->loop_ns);
    }
}

static at_task *at__next_task(at__worker *w)
{
    at__mt *mt = w->mt;
    at_task *t;
    if (++w->tick % AT__INJECT_EVERY == 0) {
        at__maintenance(mt);
        if ((t = at__inject_pop(mt, w, 1)))
            return t;
    }
    if ((t = atomic_exchange(&w->lifo, NULL))) {
        if (w->lifo_streak < AT__LIFO_MAX &&
            !(__builtin_expect(w->seeded, 0) && (at__sched_rand(&w->rng) & 1))) {
            w->lifo_streak++;
            return t;
        }
        at__lq_push(mt, &w->q, t, w->loop_ns); /* its turn comes after the queue's */
    }
    w->lifo_streak = 0;
    if (__builtin_expect(w->seeded, 0))
        at__lq_shuffle(mt, w);
    if ((t = at__lq_pop(&w->q))) {
        atomic_store_explicit(&w->q.popped_ns, w->loop_ns, memory_order_relaxed);
        return t;
    }
    if ((t = at__inject_pop(mt, w, AT__LQ_CAP / 2)))
        return t;
    return at__steal(w);
}

/* Before parking, look for work for a short while (AT__SPIN_NS) as a
 * searcher: producers then wake nobody (one worker is searching), and a
 * worker that would have parked for a few microseconds saves two futex
 * calls.  At most half of the awake workers search at once.  1 when work
 * showed up. */
#define AT__SPIN_NS (40 * AT_US)
static int at__spin_for_work(at__worker *w)
{
    at__mt *mt = w->mt;
    /* Only tasks too young to steal: park as a lookout at once (spinning
     * would pull their queue's cache lines away from the worker running
     * them, for work that is not ours to take). */
    uint64_t young = UINT64_MAX;
    if (at__work_visible(mt, w, at_now_ns(), &young))
        return 1;
    if (young != UINT64_MAX)
        return 0;
    if (!w->searching) {
        uint32_t s = atomic_load(&mt->num_searching);
        uint32_t awake = mt->n - atomic_load(&mt->num_sleeping);
        if (2 * s >= awake)
            return 0;
        w->searching = 1;
        atomic_fetch_add(&mt->num_searching, 1);
    }
    uint64_t now = at_now_ns(), end = now + AT__SPIN_NS;
    do {
        for (int i = 0; i < 64; i++)
            __builtin_ia32_pause();
        if (at__work_visible(mt, w, now = at_now_ns(), NULL))
            return 1;
    } while (now < end);
    return 0;
}

static void at__stop_point(at__worker *w);
static void at__dump_point(at__worker *w);

static void *at__worker_main(void *arg)
{
    at__worker *w = arg;
    at__mt *mt = w->mt;
    at_runtime *rt = mt->rt;
    at_trace_context *tcx = at__thread_context();
    if (!tcx) {
        fprintf(stderr, "asynctrace: worker %u: out of memory\n", w->index);
        abort();
    }
    tcx->role = AT_ROLE_WORKER;
    tcx->worker = (int32_t)w->index;
    __atomic_store_n(&tcx->runtime, rt, __ATOMIC_RELEASE);
    at__generation_bump();
    atomic_store(&w->tcx, tcx);
    at__cur_worker = w;

    /* At most one clock reading per poll (at__task_run_at), a fresh one
     * after anything that may have taken long. */
    at__loop_clock clk;
    at__loop_clock_read(&clk);
    for (;;) {
        w->loop_ns = clk.ns;
        if (atomic_load_explicit(&mt->stop, memory_order_acquire)) {
            at__stop_point(w);
            at__loop_clock_read(&clk);
        }
        if (atomic_load_explicit(&mt->shutdown, memory_order_acquire))
            break;
        if (at__dump_pending(rt) &&
            clk.ns >= __atomic_load_n(&at__rt(rt)->dump_not_before, __ATOMIC_RELAXED)) {
            at__dump_point(w);
            at__loop_clock_read(&clk);
        }
        at_task *t = at__next_task(w);
        if (t) {
            at__found_work(w);
            at__task_run_at(tcx, t, &clk);
            continue;
        }
        at__maintenance(mt);
        if (!at__own_work(w) && !at__spin_for_work(w))
            at__park_worker(w);
        at__loop_clock_read(&clk);
    }
    at__cur_worker = NULL;
    __atomic_store_n(&tcx->runtime, NULL, __ATOMIC_RELEASE);
    tcx->worker = -1;
    tcx->role = AT_ROLE_BLOCK_ON;
    return NULL;
}

static unsigned at__cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > AT__MAX_WORKERS ? AT__MAX_WORKERS : (unsigned)n;
}

static int at__mt_start(at_runtime *rt, unsigned workers, const char *name)
{
    if (!workers)
        workers = at__cpu_count();
    if (workers > AT__MAX_WORKERS)
        workers = AT__MAX_WORKERS;
    at__mt *mt = calloc(1, sizeof(*mt));
    at__worker *ws = aligned_alloc(64, ((workers * sizeof(at__worker)) + 63) & ~(size_t)63);
    unsigned *sl = calloc(workers, sizeof(*sl));
    at_task **stuck = calloc(workers, sizeof(*stuck));
    if (!mt || !ws || !sl || !stuck)
        goto fail;
    memset(ws, 0, workers * sizeof(*ws));
    mt->rt = rt;
    mt->n = workers;
    mt->w = ws;
    mt->sleepers = sl;
    mt->stuck_tasks = stuck;
    pthread_mutex_init(&mt->inj_lock, NULL);
    pthread_mutex_init(&mt->idle_lock, NULL);
    pthread_mutex_init(&mt->done_lock, NULL);
    pthread_cond_init(&mt->done_cv, NULL);
    pthread_mutex_init(&mt->dump_lock, NULL);
    pthread_mutex_init(&mt->stop_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&mt->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    rt->workers = workers;
    at__rt(rt)->sched = mt;
    if (!at__io_driver_get(rt))
        goto fail_started;
    for (unsigned i = 0; i < workers; i++) {
        at__worker *w = &ws[i];
        w->mt = mt;
        w->index = i;
        w->rng = at__sched_seed_state((1ull << 32) + i);
        w->seeded = w->rng != 0;
        if (!w->seeded)
            w->rng = 0x9e3779b97f4a7c15ull * (i + 1);
        if (pthread_create(&w->thread, NULL, at__worker_main, w) != 0)
            goto fail_started;
        w->started = 1;
        char tname[16];
        snprintf(tname, sizeof tname, "%.9s-w%u", name ? name : "asynctrace", i);
        pthread_setname_np(w->thread, tname);
    }
    return 0;

fail_started:
    at__mt_shutdown(rt);
    at__io_driver_free(rt);
    at__mt_free(rt);
    return AT_ENOMEM;
fail:
    free(mt);
    free(ws);
    free(sl);
    free(stuck);
    return AT_ENOMEM;
}

static void at__mt_shutdown(at_runtime *rt)
{
    at__mt *mt = at__mt_of(rt);
    if (!mt)
        return;
    atomic_store(&mt->shutdown, 1);
    at__unpark_all(mt);
    for (unsigned i = 0; i < mt->n; i++)
        if (mt->w[i].started) {
            pthread_join(mt->w[i].thread, NULL);
            mt->w[i].started = 0;
        }
}

static void at__mt_free(at_runtime *rt)
{
    at__mt *mt = at__mt_of(rt);
    if (!mt)
        return;
    at__rt(rt)->sched = NULL;
    pthread_mutex_destroy(&mt->inj_lock);
    pthread_mutex_destroy(&mt->idle_lock);
    pthread_mutex_destroy(&mt->done_lock);
    pthread_cond_destroy(&mt->done_cv);
    pthread_mutex_destroy(&mt->dump_lock);
    pthread_mutex_destroy(&mt->stop_lock);
    pthread_cond_destroy(&mt->stop_cv);
    free(mt->sleepers);
    free(mt->stuck_tasks);
    free(mt->w);
    free(mt);
}

/* ====================================================================== */
/* block_on                                                               */
/* ====================================================================== */

static int at__mt_block_on(at_runtime *rt, at_frame *future, const char *name,
                           const at_site *site)
{
    at__mt *mt = at__mt_of(rt);
    if (at__cur_worker && at__cur_worker->mt == mt)
        return AT_EINVAL; /* it would wait for a task its own worker must run */
    at_join_handle h = at__spawn_frame(rt, future, name, site);
    if (!h.task)
        return (__atomic_load_n(&rt->flags, __ATOMIC_ACQUIRE) & AT_RTF_SHUTDOWN)
                   ? AT_ESHUTDOWN : AT_ENOMEM;
    atomic_fetch_or(&h.task->flags, AT_TF_BLOCK_ON);
    pthread_mutex_lock(&mt->done_lock);
    while (!at__task_done(h.task))
        pthread_cond_wait(&mt->done_cv, &mt->done_lock);
    pthread_mutex_unlock(&mt->done_lock);
    int result = h.task->result;
    at_join_handle_release(&h);
    return result == AT_ECANCELED ? AT_ECANCELED : 0;
}

static void at__mt_block_on_done(at_runtime *rt)
{
    at__mt *mt = at__mt_of(rt);
    pthread_mutex_lock(&mt->done_lock);
    pthread_cond_broadcast(&mt->done_cv);
    pthread_mutex_unlock(&mt->done_lock);
}

/* ====================================================================== */
/* Stop-the-world (live dumps)                                            */
/* ====================================================================== */

/* A worker's safe point while the world stops: wait at the barrier. */
static void at__stop_point(at__worker *w)
{
    at__mt *mt = w->mt;
    pthread_mutex_lock(&mt->stop_lock);
    if (atomic_load(&mt->stop) && atomic_load(&mt->leader) != w) {
        uint64_t gen = mt->stop_gen;
        w->stopped = 1;
        mt->arrived++;
        pthread_cond_broadcast(&mt->stop_cv);
        while (atomic_load(&mt->stop) && mt->stop_gen == gen)
            pthread_cond_wait(&mt->stop_cv, &mt->stop_lock);
        w->stopped = 0;
    }
    pthread_mutex_unlock(&mt->stop_lock);
}

/* Move every queued task (injection queue, local queues, LIFO slots) to
 * the stopped world's list (rt->run_head..run_tail). */
static void at__steal_all(at__mt *mt)
{
    at_runtime *rt = mt->rt;
    pthread_mutex_lock(&mt->inj_lock);
    at_task *h = mt->inj_head, *tl = mt->inj_tail;
    mt->inj_head = mt->inj_tail = NULL;
    atomic_store(&mt->inj_len, 0);
    pthread_mutex_unlock(&mt->inj_lock);
    at__taskq_append(&at__rt(rt)->run_head, &at__rt(rt)->run_tail, h, tl);
    for (unsigned i = 0; i < mt->n; i++) {
        at__worker *v = &mt->w[i];
        at_task *t = atomic_exchange(&v->lifo, NULL);
        do {
            if (t)
                at__mt_runq_push(rt, t);
        } while ((t = at__lq_pop(&v->q)));
    }
}

static at_task *at__mt_runq_pop(at_runtime *rt)
{
    at__runtime *rs = at__rt(rt);
    if (!rs->run_head)
        at__steal_all(at__mt_of(rt));
    return at__taskq_pop(&rs->run_head, &rs->run_tail);
}

static void at__mt_runq_push(at_runtime *rt, at_task *t)
{
    at__taskq_push(&at__rt(rt)->run_head, &at__rt(rt)->run_tail, t);
}

unsigned at__mt_stop_world(at_runtime *rt, uint64_t timeout_ns)
{
    at__mt *mt = at__mt_of(rt);
    at__worker *me = at__cur_worker && at__cur_worker->mt == mt ? at__cur_worker : NULL;
    pthread_mutex_lock(&mt->dump_lock);
    pthread_mutex_lock(&mt->stop_lock);
    mt->stop_gen++;
    mt->arrived = 0;
    atomic_store(&mt->leader, me);
    atomic_store(&mt->stop, 1);
    pthread_mutex_unlock(&mt->stop_lock);
    for (unsigned i = 0; i < mt->n; i++)
        if (&mt->w[i] != me)
            at__unpark(&mt->w[i]);

    unsigned others = mt->n - (me ? 1 : 0);
    uint64_t deadline = at_now_ns() + timeout_ns;
    struct timespec ts = {(time_t)(deadline / AT_SEC), (long)(deadline % AT_SEC)};
    pthread_mutex_lock(&mt->stop_lock);
    while (mt->arrived < others)
        if (pthread_cond_timedwait(&mt->stop_cv, &mt->stop_lock, &ts) != 0 &&
            at_now_ns() >= deadline)
            break;
    unsigned stuck = 0;
    for (unsigned i = 0; i < mt->n; i++) {
        at__worker *v = &mt->w[i];
        mt->stuck_tasks[i] = NULL;
        if (v == me || v->stopped)
            continue;
        stuck++;
        at_trace_context *c = atomic_load(&v->tcx);
        mt->stuck_tasks[i] = c ? __atomic_load_n(&c->current, __ATOMIC_ACQUIRE) : NULL;
    }
    pthread_mutex_unlock(&mt->stop_lock);
    at__steal_all(mt);
    return stuck;
}

void at__mt_resume_world(at_runtime *rt)
{
    at__runtime *rs = at__rt(rt);
    at__mt *mt = at__mt_of(rt);
    /* What the dump left queued goes to the injection queue. */
    at_task *h = rs->run_head, *tl = rs->run_tail;
    size_t n = 0;
    for (at_task *t = h; t; t = t->run_next)
        n++;
    rs->run_head = rs->run_tail = NULL;
    if (h)
        at__inject_push_list(mt, h, tl, n);
    pthread_mutex_lock(&mt->stop_lock);
    atomic_store(&mt->stop, 0);
    atomic_store(&mt->leader, NULL);
    for (unsigned i = 0; i < mt->n; i++)
        mt->stuck_tasks[i] = NULL;
    pthread_cond_broadcast(&mt->stop_cv);
    pthread_mutex_unlock(&mt->stop_lock);
    pthread_mutex_unlock(&mt->dump_lock);
    if (n)
        at__unpark_all(mt);
}

int at__mt_stuck(at_runtime *rt, unsigned i, const at_task **task, int32_t *tid)
{
    at__mt *mt = at__mt_of(rt);
    if (!mt || i >= mt->n)
        return 0;
    at__worker *v = &mt->w[i];
    pthread_mutex_lock(&mt->stop_lock);
    int stuck = atomic_load(&mt->stop) && v != atomic_load(&mt->leader) && !v->stopped;
    at_trace_context *c = atomic_load(&v->tcx);
    *task = mt->stuck_tasks[i];
    *tid = c ? c->tid : 0;
    pthread_mutex_unlock(&mt->stop_lock);
    return stuck;
}

unsigned at__mt_workers(at_runtime *rt)
{
    at__mt *mt = at__mt_of(rt);
    return mt ? mt->n : 0;
}

/* A worker saw a dump request at its safe point: the first one to get here
 * serves it (at__dump_safe_point, which stops the world around each dump
 * through at__mt_live_dump); the others are stopped by it. */
static void at__dump_point(at__worker *w)
{
    at__mt *mt = w->mt;
    int idle = 0;
    if (!atomic_compare_exchange_strong(&mt->dumping, &idle, 1))
        return;
    at__sched_safe_point(mt->rt, 1);
    atomic_store(&mt->dumping, 0);
}

int at__mt_is_worker(const at_runtime *rt)
{
    return at__rt(rt)->sched && at__cur_worker && at__cur_worker->mt == at__rt(rt)->sched;
}

/* ====================================================================== */
/* The flavor's operations                                                */
/* ====================================================================== */

static int at__mt_start_opts(at_runtime *rt, const at_runtime_options *opts)
{
    return at__mt_start(rt, opts->workers, opts->name);
}

/* After a Pending poll: once IDLE is published a wake may schedule the
 * task, and another worker run, finish and free it: hold a reference while
 * we look for a wake that came during the poll.  The exchange is a full
 * barrier, so the flags read below cannot pass it (pairs with the waker's
 * fetch_or of NOTIFIED, then its re-read of the state). */
static void at__mt_pending(at_runtime *rt, at_task *t)
{
    at__task_ref(t);
    atomic_exchange_explicit(&t->state, AT_TASK_IDLE, memory_order_seq_cst);
    uint32_t flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
    if (flags & (AT_TF_NOTIFIED | AT_TF_ABORT)) {
        if (flags & AT_TF_NOTIFIED)
            atomic_fetch_and(&t->flags, ~AT_TF_NOTIFIED);
        at__task_wake_shared(rt, t);
    }
    at__task_unref(t);
}

const at__sched_ops at__mt_ops = {
    .name = "multi-thread",
    .start = at__mt_start_opts,
    .enqueue = at__mt_enqueue,
    .wake = at__task_wake_shared,
    .pending = at__mt_pending,
    .block_on_done = at__mt_block_on_done,
    .block_on = at__mt_block_on,
    .unpark = at__mt_unpark,
    .runq_pop = at__mt_runq_pop,
    .runq_push = at__mt_runq_push,
    .shutdown = at__mt_shutdown,
    .free = at__mt_free,
};
