/* scheduler.c - the current-thread scheduler: runtime creation and
 * shutdown, at_block_on's run loop, waking, the run queues, and
 * at_root_poll.  A multi-thread runtime shares the task state machine and
 * at__task_run; its queues, workers and block_on are in mt_scheduler.c.
 *
 * Task state machine (atomic, see docs/runtime.md):
 *
 *   spawn -> SCHEDULED -> RUNNING -> IDLE -> (wake) SCHEDULED -> ...
 *                            |  \-> COMPLETE          (future Ready)
 *                            \----> CANCELLED         (abort observed)
 *
 * A wake of a RUNNING task sets AT_TF_NOTIFIED; the poller re-schedules the
 * task when the poll returns Pending.
 *
 * Multi-thread runtime: only a successful IDLE -> SCHEDULED compare-and-swap
 * queues a task, so a task is never queued twice and never polled by two
 * threads at once.
 *
 * Current-thread runtime: the state of a task is written only by the thread
 * driving its runtime (the owner, inside at_block_on), with plain atomic
 * loads and stores, no read-modify-write.  Any other thread asks the owner:
 * it puts the task on the runtime's wake-request list (rt->wake_head, under
 * rt->lock) and unparks it; the owner turns each request into a wake
 * between two polls.  Before block_on runs (no owner), the same list is
 * used and drained when it starts. */
#include <stdlib.h>
#include <time.h>

#include "sched/mt_internal.h"

static uint64_t at__next_runtime_id = 1;

/* ---- The loops' clock (sched.h) ---- */

int at__tsc_usable;

#if AT__HAVE_TSC
#include <cpuid.h>
/* An invariant TSC (CPUID 0x80000007, EDX bit 8) ticks at a constant rate
 * in every power state.  ASYNCTRACE_NO_TSC=1 turns its use off. */
__attribute__((constructor)) static void at__tsc_probe(void)
{
    unsigned a, b, c, d;
    const char *off = getenv("ASYNCTRACE_NO_TSC");
    if (off && *off && *off != '0')
        return;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000007u &&
        __get_cpuid(0x80000007u, &a, &b, &c, &d) && (d & (1u << 8)))
        at__tsc_usable = 1;
}
#endif

/* ---- Runtime list in the descriptor ---- */

static void at__runtime_register(at_runtime *rt)
{
    at__registry_lock();
    rt->id = at__next_runtime_id++;
    rt->prev = NULL;
    rt->next = asynctrace_debug.runtimes;
    if (rt->next)
        rt->next->prev = rt;
    __atomic_store_n(&asynctrace_debug.runtimes, rt, __ATOMIC_RELEASE);
    at__generation_bump();
    at__registry_unlock();
}

static void at__runtime_unregister(at_runtime *rt)
{
    at__registry_lock();
    if (rt->prev)
        __atomic_store_n(&rt->prev->next, rt->next, __ATOMIC_RELEASE);
    else
        __atomic_store_n(&asynctrace_debug.runtimes, rt->next, __ATOMIC_RELEASE);
    if (rt->next)
        rt->next->prev = rt->prev;
    at__generation_bump();
    at__registry_unlock();
}

/* The dump subsystem is wired in by explicit calls, never by weak symbols:
 * at_runtime_new calls at__dump_attach (which reads ASYNCTRACE_DUMP_SIGNAL),
 * the loops call at__dump_safe_point, shutdown calls at__dump_runtime_free.
 * These strong references are what make a static link pull the dump
 * objects in, so a program that never calls a dump function still answers
 * the dump signal.  (A weak no-op default here used to win silently.) */

/* A dump request is waiting (rt->dump_state is set by other threads). */
static inline int at__dump_pending(at_runtime *rt)
{
    return __atomic_load_n(&rt->dump_state, __ATOMIC_ACQUIRE) != NULL;
}

at_runtime *at_runtime_new(const at_runtime_options *opts)
{
    at_flavor flavor = opts ? opts->flavor : AT_FLAVOR_CURRENT_THREAD;
    if (flavor != AT_FLAVOR_CURRENT_THREAD && flavor != AT_FLAVOR_MULTI_THREAD)
        return NULL;
    at_runtime *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return NULL;
    rt->flavor = flavor;
    rt->workers = 1;
    pthread_mutex_init(&rt->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->park, &ca);
    pthread_condattr_destroy(&ca);
    rt->now_ns = at_now_ns();
    at__record_clock(rt->now_ns);
    at__record_clock_pair();
    if (flavor == AT_FLAVOR_MULTI_THREAD &&
        at__mt_start(rt, opts->workers, opts->name) < 0) {
        pthread_mutex_destroy(&rt->lock);
        pthread_cond_destroy(&rt->park);
        free(rt);
        return NULL;
    }
    /* No task can exist before rt is returned, so the workers (already
     * running) allocate nothing before the pool is there. */
    if (at__pool_new(rt, rt->workers) < 0) {
        if (rt->sched) {
            at__mt_shutdown(rt);
            at__io_driver_free(rt);
            at__mt_free(rt);
        }
        pthread_mutex_destroy(&rt->lock);
        pthread_cond_destroy(&rt->park);
        free(rt);
        return NULL;
    }
    rt->magic = AT_RUNTIME_MAGIC;
    at__runtime_register(rt);
    at__dump_attach(rt);
    return rt;
}

/* ---- Run queues ---- */

void at__runq_push(at_runtime *rt, at_task *t)
{
    if (rt->sched) {
        at__mt_runq_push(rt, t);
        return;
    }
    t->run_next = NULL;
    if (rt->run_tail)
        rt->run_tail->run_next = t;
    else
        rt->run_head = t;
    rt->run_tail = t;
}

/* End of the wake-request list (a task's link is NULL when it is not on
 * the list). */
#define AT__WAKE_END ((void *)&at__next_runtime_id)

static void at__ct_wake_local(at_runtime *rt, at_task *t);

/* Owner: move the injection queue (spawns from other threads) to the run
 * queue and turn the wake requests into wakes. */
static void at__runq_drain_inject(at_runtime *rt)
{
    if (!__atomic_load_n(&rt->inject_head, __ATOMIC_ACQUIRE) &&
        !__atomic_load_n(&rt->wake_head, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&rt->lock);
    at_task *h = rt->inject_head, *tl = rt->inject_tail;
    rt->inject_head = rt->inject_tail = NULL;
    if (h) {
        if (rt->run_tail)
            rt->run_tail->run_next = h;
        else
            rt->run_head = h;
        rt->run_tail = tl;
    }
    /* Under the lock: a requester looks at the links under it, and a task
     * being freed takes itself off the list under it (at__ct_wake_forget).
     * Links are atomic: a task being freed peeks at its own without it. */
    at_task *w = rt->wake_head;
    __atomic_store_n(&rt->wake_head, NULL, __ATOMIC_RELAXED);
    while (w && w != AT__WAKE_END) {
        at_task *next = w->sched_data;
        __atomic_store_n(&w->sched_data, NULL, __ATOMIC_RELAXED);
        at__ct_wake_local(rt, w);
        w = next;
    }
    pthread_mutex_unlock(&rt->lock);
}

/* rt->lock held: a task being freed leaves the wake-request list. */
void at__ct_wake_forget(at_runtime *rt, at_task *t)
{
    if (!t->sched_data)
        return;
    /* The head is also read without the lock (a quick look for work). */
    at_task **pp = &rt->wake_head;
    while (*pp && *pp != AT__WAKE_END) {
        if (*pp == t) {
            __atomic_store_n(pp, (at_task *)t->sched_data, __ATOMIC_RELAXED);
            break;
        }
        pp = (at_task **)&(*pp)->sched_data;
    }
    __atomic_store_n(&t->sched_data, NULL, __ATOMIC_RELAXED);
}

at_task *at__runq_pop(at_runtime *rt)
{
    if (rt->sched)
        return at__mt_runq_pop(rt);
    if (!rt->run_head)
        at__runq_drain_inject(rt);
    at_task *t = rt->run_head;
    if (t) {
        rt->run_head = t->run_next;
        if (!rt->run_head)
            rt->run_tail = NULL;
        t->run_next = NULL;
    }
    return t;
}

/* rt->parked: 0 running, 1 waiting on rt->park, 2 waiting in the I/O
 * driver (woken through its eventfd). */
static void at__wake_owner_locked(at_runtime *rt)
{
    if (rt->parked == 2)
        at__io_wake(rt);
    else if (rt->parked)
        pthread_cond_signal(&rt->park);
}

void at__runtime_unpark(at_runtime *rt)
{
    if (rt->sched) {
        at__mt_unpark(rt);
        return;
    }
    pthread_mutex_lock(&rt->lock);
    at__wake_owner_locked(rt);
    pthread_mutex_unlock(&rt->lock);
}

void at__sched_enqueue(at_runtime *rt, at_task *t)
{
    if (rt->sched) {
        at__mt_enqueue(rt, t);
        return;
    }
    at_trace_context *c = at__tls_context;
    /* rt->owner is read here by any thread: atomic accesses. */
    if (c && __atomic_load_n(&rt->owner, __ATOMIC_RELAXED) == c) {
        at__runq_push(rt, t);
        return;
    }
    /* From another thread (or before block_on runs): inject and unpark. */
    pthread_mutex_lock(&rt->lock);
    t->run_next = NULL;
    if (rt->inject_tail)
        rt->inject_tail->run_next = t;
    else
        __atomic_store_n(&rt->inject_head, t, __ATOMIC_RELEASE);
    rt->inject_tail = t;
    at__wake_owner_locked(rt);
    pthread_mutex_unlock(&rt->lock);
}

/* A wake's timestamp: never before the last one of the task (the poll's
 * end may come from a reading fresher than the waker's coarse clock).
 * Timestamps may be written by a waker and a poller or canceller at once:
 * relaxed atomic accesses. */
static inline void at__stamp_state(at_task *t)
{
    uint64_t now = at__stamp_ns();
    uint64_t last = __atomic_load_n(&t->state_ns, __ATOMIC_RELAXED);
    __atomic_store_n(&t->state_ns, now > last ? now : last, __ATOMIC_RELAXED);
}

/* Current-thread, on the owner thread: the only writer of the state. */
static void at__ct_wake_local(at_runtime *rt, at_task *t)
{
    uint32_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
    if (s == AT_TASK_IDLE) {
        atomic_store_explicit(&t->state, AT_TASK_SCHEDULED, memory_order_relaxed);
        at__stamp_state(t);
        at__runq_push(rt, t);
    } else if (s == AT_TASK_RUNNING) {
        atomic_fetch_or_explicit(&t->flags, AT_TF_NOTIFIED, memory_order_relaxed);
    }
}

/* Current-thread, from any other thread: ask the owner. */
static void at__ct_wake_remote(at_runtime *rt, at_task *t)
{
    pthread_mutex_lock(&rt->lock);
    if (!t->sched_data) {
        __atomic_store_n(&t->sched_data, rt->wake_head ? rt->wake_head : AT__WAKE_END,
                         __ATOMIC_RELAXED);
        __atomic_store_n(&rt->wake_head, t, __ATOMIC_RELEASE);
        at__wake_owner_locked(rt);
    }
    pthread_mutex_unlock(&rt->lock);
}

void at__task_wake(at_task *t)
{
    at_runtime *rt = t->runtime;
    if (rt && !rt->sched) {
        at_trace_context *c = at__tls_context;
        if (c && __atomic_load_n(&rt->owner, __ATOMIC_RELAXED) == c)
            at__ct_wake_local(rt, t);
        else
            at__ct_wake_remote(rt, t);
        return;
    }
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        if (s == AT_TASK_IDLE) {
            if (atomic_compare_exchange_weak_explicit(&t->state, &s, AT_TASK_SCHEDULED,
                                                      memory_order_acq_rel,
                                                      memory_order_acquire)) {
                at__stamp_state(t);
                if (rt)
                    at__mt_enqueue(rt, t);
                return;
            }
            continue; /* s holds the state that made the CAS fail */
        }
        if (s == AT_TASK_RUNNING) {
            /* A full barrier (locked RMW), then the re-read: pairs with the
             * poller's exchange to IDLE followed by its read of the flags. */
            atomic_fetch_or(&t->flags, AT_TF_NOTIFIED);
            s = atomic_load_explicit(&t->state, memory_order_acquire);
            if (s == AT_TASK_RUNNING)
                return;
            continue; /* it went idle meanwhile: schedule it ourselves */
        }
        return; /* scheduled already, or finished */
    }
}

/* ---- Polling ---- */

AT_NOINLINE at_poll_result at_root_poll(at_trace_context *tcx, at_task *t)
{
    at_root_frame rf;
    rf.inner_addr = (void *)at_root_poll;
    rf.parent = tcx->active;
    rf.task = t;
    __atomic_store_n(&tcx->active, &rf, __ATOMIC_RELEASE);
    at_context cx = {t, tcx};
    at_poll_result r = at_poll(t->root, &cx);
    __atomic_store_n(&tcx->active, rf.parent, __ATOMIC_RELEASE);
    /* Keep rf alive (and this frame a real frame) until here. */
    __asm__ volatile("" : : "r"(&rf) : "memory");
    return r;
}

static void at__task_finish(at_task *t, uint32_t final_state, int result, uint64_t now)
{
    t->result = result;
    __atomic_store_n(&t->state_ns, now, __ATOMIC_RELAXED);
    atomic_store_explicit(&t->state, final_state, memory_order_release);
    at__task_notify_joiner(t);
    if (t->runtime && t->runtime->sched &&
        (atomic_load_explicit(&t->flags, memory_order_relaxed) & AT_TF_BLOCK_ON))
        at__mt_block_on_done(t->runtime);
    at__task_unref(t); /* the runtime's reference */
}

static void at__task_cancel(at_task *t)
{
    if (t->root)
        at_frame_drop(t->root);
    at__task_finish(t, AT_TASK_CANCELLED, AT_ECANCELED, at_now_ns());
}

at_poll_result at__task_run(at_trace_context *tcx, at_task *t)
{
    at__loop_clock clk;
    at__loop_clock_read(&clk);
    return at__task_run_at(tcx, t, &clk);
}

/* One clock reading per poll at most (sched.h): the reading that ends a
 * poll is the next poll's start; the loops take a fresh one after anything
 * that may take long between two polls (parking, a dump). */
at_poll_result at__task_run_at(at_trace_context *tcx, at_task *t, at__loop_clock *clk)
{
    uint32_t flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
    if (flags & AT_TF_ABORT) {
        at__task_cancel(t);
        at__loop_clock_read(clk);
        return AT_READY;
    }
    /* Never before the task was scheduled (that stamp may be fresher than
     * the loop's reading); the loop's clock moves up with it. */
    uint64_t start = clk->ns;
    uint64_t since = __atomic_load_n(&t->state_ns, __ATOMIC_RELAXED);
    if (start < since)
        start = clk->ns = since;
    /* A wake that came after the last poll's check left NOTIFIED behind. */
    if (flags & AT_TF_NOTIFIED)
        atomic_fetch_and(&t->flags, ~AT_TF_NOTIFIED);
    t->poll_start_ns = start;
    __atomic_store_n(&t->state_ns, start, __ATOMIC_RELAXED);
    t->poll_count++;
    atomic_store_explicit(&t->worker, tcx->worker < 0 ? 0 : tcx->worker, memory_order_relaxed);
    atomic_store_explicit(&t->state, AT_TASK_RUNNING, memory_order_release);

    at_task *prev = tcx->current;
    uint64_t prev_start = tcx->poll_start_ns;
    tcx->poll_start_ns = start;
    __atomic_store_n(&tcx->current, t, __ATOMIC_RELEASE);
    at_poll_result r = at_root_poll(tcx, t);
    __atomic_store_n(&tcx->current, prev, __ATOMIC_RELEASE);
    tcx->poll_start_ns = prev_start;

    uint64_t end = at__loop_clock_now(clk);
    t->poll_end_ns = end;
    if (r == AT_READY) {
        at__task_finish(t, AT_TASK_COMPLETE, 0, end);
        return AT_READY;
    }
    __atomic_store_n(&t->state_ns, end, __ATOMIC_RELAXED);
    at_runtime *rt = t->runtime;
    if (!rt->sched) {
        /* Current-thread: this thread alone writes the state and sets
         * NOTIFIED (other threads' wakes are requests), so program order
         * is enough; an abort asked meanwhile comes as a request too. */
        atomic_store_explicit(&t->state, AT_TASK_IDLE, memory_order_release);
        flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
        if (flags & (AT_TF_NOTIFIED | AT_TF_ABORT)) {
            if (flags & AT_TF_NOTIFIED)
                atomic_fetch_and(&t->flags, ~AT_TF_NOTIFIED);
            at__ct_wake_local(rt, t);
        }
        return AT_PENDING;
    }
    /* Multi-thread: once IDLE is published a wake may schedule the task,
     * and another worker run, finish and free it: hold a reference while
     * we look for a wake that came during the poll.  The exchange is a
     * full barrier, so the flags read below cannot pass it (pairs with
     * the waker's fetch_or of NOTIFIED, then its re-read of the state). */
    at__task_ref(t);
    atomic_exchange_explicit(&t->state, AT_TASK_IDLE, memory_order_seq_cst);
    flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
    if (flags & (AT_TF_NOTIFIED | AT_TF_ABORT)) {
        if (flags & AT_TF_NOTIFIED)
            atomic_fetch_and(&t->flags, ~AT_TF_NOTIFIED);
        at__task_wake(t);
    }
    at__task_unref(t);
    return AT_PENDING;
}

/* ---- block_on ---- */

static void at__park(at_runtime *rt, uint64_t deadline)
{
    pthread_mutex_lock(&rt->lock);
    int work = rt->inject_head || rt->wake_head;
    if (!work && !at__dump_pending(rt) && rt->driver) {
        /* Wait in epoll instead; wakes come through the eventfd. */
        rt->parked = 2;
        pthread_mutex_unlock(&rt->lock);
        at__io_turn(rt, deadline);
        pthread_mutex_lock(&rt->lock);
        rt->parked = 0;
    } else if (!work && !at__dump_pending(rt)) {
        rt->parked = 1;
        if (deadline == UINT64_MAX) {
            pthread_cond_wait(&rt->park, &rt->lock);
        } else {
            struct timespec ts = {(time_t)(deadline / AT_SEC), (long)(deadline % AT_SEC)};
            pthread_cond_timedwait(&rt->park, &rt->lock, &ts);
        }
        rt->parked = 0;
    }
    pthread_mutex_unlock(&rt->lock);
}

static int at__task_done(at_task *t)
{
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    return s == AT_TASK_COMPLETE || s == AT_TASK_CANCELLED;
}

int at__block_on(at_runtime *rt, at_frame *future, const char *name,
                 const at_site *site)
{
    if (!rt || !future)
        return AT_EINVAL;
    if (__atomic_load_n(&rt->flags, __ATOMIC_ACQUIRE) & AT_RTF_SHUTDOWN)
        return AT_ESHUTDOWN;
    if (rt->sched)
        return at__mt_block_on(rt, future, name, site);
    if (rt->in_block_on)
        return AT_EINVAL;
    at_trace_context *tcx = at__thread_context();
    if (!tcx)
        return AT_ENOMEM;

    at_runtime *saved_rt = tcx->runtime;
    at_runtime *saved_owner_rt = rt->owner ? rt->owner->runtime : NULL;
    (void)saved_owner_rt;
    rt->in_block_on = 1;
    __atomic_store_n(&rt->owner, tcx, __ATOMIC_RELAXED);
    tcx->runtime = rt;

    at_join_handle h = at__spawn_frame(rt, future, name, site);
    if (!h.task) {
        rt->in_block_on = 0;
        __atomic_store_n(&rt->owner, NULL, __ATOMIC_RELAXED);
        tcx->runtime = saved_rt;
        return AT_ENOMEM;
    }
    atomic_fetch_or(&h.task->flags, AT_TF_BLOCK_ON);

    /* At most one clock reading per poll (at__task_run_at), a fresh one
     * after parking and after a dump. */
    at__loop_clock clk;
    at__loop_clock_read(&clk);
    while (!at__task_done(h.task)) {
        at_task *t = at__runq_pop(rt);
        if (t) {
            at__task_run_at(tcx, t, &clk);
            __atomic_store_n(&rt->now_ns, clk.ns, __ATOMIC_RELAXED);
            if (at__dump_pending(rt)) {
                at__dump_safe_point(rt);
                at__loop_clock_read(&clk);
            }
            if (++rt->polls_since_check < 61)
                continue;
        }
        rt->polls_since_check = 0;
        at__runq_drain_inject(rt); /* not only when idle: no starving */
        /* A fresh reading: the clock recorded for cores is never older
         * than a time the tasks saw (at_now_ns() in a poll). */
        uint64_t now = at__loop_clock_read(&clk);
        __atomic_store_n(&rt->now_ns, now, __ATOMIC_RELAXED);
        at__record_clock(now);
        uint64_t next = at__timers_fire(rt, now);
        if (rt->driver)
            at__io_turn(rt, 0);
        if (at__dump_pending(rt)) {
            at__dump_safe_point(rt);
            at__loop_clock_read(&clk);
        }
        if (t || rt->run_head || at__task_done(h.task))
            continue;
        at__runq_drain_inject(rt);
        if (rt->run_head)
            continue;
        at__park(rt, next);
        at__loop_clock_read(&clk);
    }
    int result = h.task->result;
    rt->in_block_on = 0;
    __atomic_store_n(&rt->owner, NULL, __ATOMIC_RELAXED);
    tcx->runtime = saved_rt;
    at_join_handle_release(&h);
    return result == AT_ECANCELED ? AT_ECANCELED : 0;
}

/* ---- Shutdown ---- */

int at_runtime_shutdown(at_runtime *rt)
{
    if (!rt)
        return AT_EINVAL;
    if (at_runtime_current() == rt)
        return AT_EINVAL; /* a task cannot cancel the runtime it runs on */
    if (__atomic_fetch_or(&rt->flags, AT_RTF_SHUTDOWN, __ATOMIC_ACQ_REL) & AT_RTF_SHUTDOWN)
        return 0;
    /* Multi-thread: every worker finishes the poll it is in and exits; the
     * tasks left are cancelled below, on this thread. */
    at__mt_shutdown(rt);
    /* Dump requests still queued for rt are answered with AT_ESHUTDOWN. */
    at__dump_runtime_free(rt);
    /* Cancel every unfinished task (drop hooks run; joiners are woken and
     * see AT_ECANCELED).  Cancelling can free tasks, so restart the scan
     * after each one. */
    for (;;) {
        at_task *victim = NULL;
        at__spin_lock(&rt->owned_lock);
        for (at_task *t = rt->owned_head; t; t = t->owned_next)
            if (!at__task_done(t)) {
                victim = t;
                at__task_ref(victim);
                break;
            }
        at__spin_unlock(&rt->owned_lock);
        if (!victim)
            break;
        at__task_cancel(victim);
        at__task_unref(victim);
    }
    return 0;
}

void at_runtime_free(at_runtime *rt)
{
    if (!rt)
        return;
    at_runtime_shutdown(rt);
    /* Running blocking jobs are waited for (their futures are gone), so no
     * pool thread still holds a waker when the tasks are detached below. */
    at__blocking_free(rt);
    at__timers_free(rt);
    /* Tasks still referenced by handles or wakers outlive the runtime:
     * detach them from it. */
    pthread_mutex_lock(&rt->lock);
    at__spin_lock(&rt->owned_lock);
    /* Their memory stays valid: each holds the task pool until freed. */
    at__pool_hold(rt, rt->task_count);
    while (rt->owned_head) {
        at_task *t = rt->owned_head;
        at__owned_unlink_locked(rt, t);
        at__ct_wake_forget(rt, t);
        t->runtime = NULL;
    }
    at__spin_unlock(&rt->owned_lock);
    __atomic_store_n(&rt->wake_head, NULL, __ATOMIC_RELAXED);
    rt->run_head = rt->run_tail = NULL;
    rt->inject_head = rt->inject_tail = NULL;
    pthread_mutex_unlock(&rt->lock);
    at__io_driver_free(rt);
    at__mt_free(rt);
    at__pool_release(rt);
    at__runtime_unregister(rt);
    pthread_mutex_destroy(&rt->lock);
    pthread_cond_destroy(&rt->park);
    rt->magic = AT_DEAD_MAGIC;
    free(rt);
}
