/* ct_scheduler.c - the current-thread flavor: the thread inside at_block_on
 * (the owner) polls every task; its run queue, the injection queue of
 * spawns from other threads, the wake-request list, parking, and the
 * block_on loop.  Reached through its operation table, at__ct_ops.
 *
 * The state of a task is written only by the owner, with plain atomic
 * loads and stores, no read-modify-write.  Any other thread asks the owner:
 * it puts the task on the runtime's wake-request list (rt->wake_head, under
 * rt->lock) and unparks it; the owner turns each request into a wake
 * between two polls.  Before block_on runs (no owner), the same list is
 * used and drained when it starts. */
#include <time.h>

#include "sched/io.h"
#include "sched/sched.h"

/* End of the wake-request list (a task's link is NULL when it is not on
 * the list). */
static const char at__wake_end_mark;
#define AT__WAKE_END ((void *)&at__wake_end_mark)

/* ---- Run queue (owner thread) ---- */

static void at__ct_runq_push(at_runtime *rt, at_task *t)
{
    at__taskq_push(&at__rt(rt)->run_head, &at__rt(rt)->run_tail, t);
}

/* Owner: move the injection queue (spawns from other threads) to the run
 * queue and turn the wake requests into wakes. */
static void at__ct_drain_inject(at_runtime *rt)
{
    at__runtime *rs = at__rt(rt);
    if (!__atomic_load_n(&rs->inject_head, __ATOMIC_ACQUIRE) &&
        !__atomic_load_n(&rs->wake_head, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&rs->lock);
    at__taskq_append(&rs->run_head, &rs->run_tail, rs->inject_head, rs->inject_tail);
    rs->inject_head = rs->inject_tail = NULL;
    /* Under the lock: a requester looks at the links under it, and a task
     * being freed takes itself off the list under it (at__ct_task_leaving).
     * Links are atomic: a task being freed peeks at its own without it. */
    at_task *w = rs->wake_head;
    __atomic_store_n(&rs->wake_head, NULL, __ATOMIC_RELAXED);
    while (w && w != AT__WAKE_END) {
        at_task *next = w->sched_data;
        __atomic_store_n(&w->sched_data, NULL, __ATOMIC_RELAXED);
        at__ct_wake_local(rt, w);
        w = next;
    }
    pthread_mutex_unlock(&rs->lock);
}

static at_task *at__ct_runq_pop(at_runtime *rt)
{
    at__runtime *rs = at__rt(rt);
    if (!rs->run_head)
        at__ct_drain_inject(rt);
    if (__builtin_expect(rs->sched_rng != 0, 0))
        return at__runq_pop_seeded(rt);
    return at__taskq_pop(&rs->run_head, &rs->run_tail);
}

/* A task being freed leaves the wake-request list, under rt->lock (kept
 * for the caller's owned-list unlink). */
static int at__ct_task_leaving(at_runtime *rt, at_task *t)
{
    if (!__atomic_load_n(&t->sched_data, __ATOMIC_RELAXED))
        return 0;
    pthread_mutex_lock(&at__rt(rt)->lock);
    if (t->sched_data) {
        /* The head is also read without the lock (a quick look for work). */
        at_task **pp = &at__rt(rt)->wake_head;
        while (*pp && *pp != AT__WAKE_END) {
            if (*pp == t) {
                __atomic_store_n(pp, (at_task *)t->sched_data, __ATOMIC_RELAXED);
                break;
            }
            pp = (at_task **)&(*pp)->sched_data;
        }
        __atomic_store_n(&t->sched_data, NULL, __ATOMIC_RELAXED);
    }
    return 1;
}

/* ---- Waking ---- */

/* rt->parked: 0 running, 1 waiting on rt->park, 2 waiting in the I/O
 * driver (woken through its eventfd). */
static void at__wake_owner_locked(at_runtime *rt)
{
    at__runtime *rs = at__rt(rt);
    if (rs->parked == 2)
        at__io_wake(rt);
    else if (rs->parked)
        pthread_cond_signal(&rs->park);
}

static void at__ct_unpark(at_runtime *rt)
{
    pthread_mutex_lock(&at__rt(rt)->lock);
    at__wake_owner_locked(rt);
    pthread_mutex_unlock(&at__rt(rt)->lock);
}

static void at__ct_enqueue(at_runtime *rt, at_task *t)
{
    at__runtime *rs = at__rt(rt);
    at_trace_context *c = at__tls_context;
    /* rt->owner is read here by any thread: atomic accesses. */
    if (c && __atomic_load_n(&rs->owner, __ATOMIC_RELAXED) == c) {
        at__ct_runq_push(rt, t);
        return;
    }
    /* From another thread (or before block_on runs): inject and unpark. */
    pthread_mutex_lock(&rs->lock);
    t->run_next = NULL;
    if (rs->inject_tail)
        rs->inject_tail->run_next = t;
    else
        __atomic_store_n(&rs->inject_head, t, __ATOMIC_RELEASE);
    rs->inject_tail = t;
    at__wake_owner_locked(rt);
    pthread_mutex_unlock(&rs->lock);
}

/* From any other thread: ask the owner. */
static void at__ct_wake_remote(at_runtime *rt, at_task *t)
{
    at__runtime *rs = at__rt(rt);
    pthread_mutex_lock(&rs->lock);
    if (!t->sched_data) {
        __atomic_store_n(&t->sched_data, rs->wake_head ? rs->wake_head : AT__WAKE_END,
                         __ATOMIC_RELAXED);
        __atomic_store_n(&rs->wake_head, t, __ATOMIC_RELEASE);
        at__wake_owner_locked(rt);
    }
    pthread_mutex_unlock(&rs->lock);
}

static void at__ct_wake(at_runtime *rt, at_task *t)
{
    at_trace_context *c = at__tls_context;
    if (c && __atomic_load_n(&at__rt(rt)->owner, __ATOMIC_RELAXED) == c)
        at__ct_wake_local(rt, t);
    else
        at__ct_wake_remote(rt, t);
}

/* After a Pending poll: this thread alone writes the state and sets
 * NOTIFIED (other threads' wakes are requests), so program order is
 * enough; an abort asked meanwhile comes as a request too. */
static void at__ct_pending(at_runtime *rt, at_task *t)
{
    atomic_store_explicit(&t->state, AT_TASK_IDLE, memory_order_release);
    uint32_t flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
    if (flags & (AT_TF_NOTIFIED | AT_TF_ABORT)) {
        if (flags & AT_TF_NOTIFIED)
            atomic_fetch_and(&t->flags, ~AT_TF_NOTIFIED);
        at__ct_wake_local(rt, t);
    }
}

/* ---- block_on ---- */

static void at__park(at_runtime *rt, uint64_t deadline)
{
    at__runtime *rs = at__rt(rt);
    pthread_mutex_lock(&rs->lock);
    int work = rs->inject_head || rs->wake_head;
    if (!work && !at__dump_pending(rt) && rs->driver) {
        /* Wait in epoll instead; wakes come through the eventfd. */
        rs->parked = 2;
        pthread_mutex_unlock(&rs->lock);
        at__io_turn(rt, deadline);
        pthread_mutex_lock(&rs->lock);
        rs->parked = 0;
    } else if (!work && !at__dump_pending(rt)) {
        rs->parked = 1;
        if (deadline == UINT64_MAX) {
            pthread_cond_wait(&rs->park, &rs->lock);
        } else {
            struct timespec ts = {(time_t)(deadline / AT_SEC), (long)(deadline % AT_SEC)};
            pthread_cond_timedwait(&rs->park, &rs->lock, &ts);
        }
        rs->parked = 0;
    }
    pthread_mutex_unlock(&rs->lock);
}

/* A dump request is served between two polls, a bounded number
 * (dump_request.c): while tasks wait to run (`busy`) only once it is due,
 * judged on the loop's clock reading (no extra one).  The clock is read
 * afresh after a dump. */
static void at__ct_dump_point(at_runtime *rt, at__loop_clock *clk, int busy)
{
    if (!at__dump_pending(rt))
        return;
    if (busy && clk->ns < __atomic_load_n(&at__rt(rt)->dump_not_before, __ATOMIC_RELAXED))
        return;
    at__sched_safe_point(rt, busy);
    at__loop_clock_read(clk);
}

/* Between polls, every 61 polls and whenever the queue is empty: wakes
 * from other threads, timers, I/O, dumps.  Returns the next timer
 * deadline (UINT64_MAX: none). */
static uint64_t at__ct_maintenance(at_runtime *rt, at__loop_clock *clk, int polled)
{
    at__runtime *rs = at__rt(rt);
    rs->polls_since_check = 0;
    at__ct_drain_inject(rt); /* not only when idle: no starving */
    /* A fresh reading: the clock recorded for cores is never older than a
     * time the tasks saw (at_now_ns() in a poll). */
    uint64_t now = at__loop_clock_read(clk);
    __atomic_store_n(&rt->now_ns, now, __ATOMIC_RELAXED);
    at__record_clock(now);
    uint64_t next = at__timers_fire(rt, now);
    if (rs->driver)
        at__io_turn(rt, 0);
    at__ct_dump_point(rt, clk, polled || rs->run_head);
    return next;
}

/* The loop: poll until the block_on task is done.  A function of its own
 * (not inlined into at__ct_block_on): the poll it inlines is then the only
 * inlined frame between at_root_poll and the loop in a native backtrace. */
AT_NOINLINE static void at__ct_run(at_runtime *rt, at_trace_context *tcx,
                                   at_task *main_task)
{
    at__runtime *rs = at__rt(rt);
    /* At most one clock reading per poll (at__task_run_at), a fresh one
     * after parking and after a dump. */
    at__loop_clock clk;
    at__loop_clock_read(&clk);
    while (!at__task_done(main_task)) {
        at_task *t = at__ct_runq_pop(rt);
        if (t) {
            at__task_poll(tcx, t, &clk, at__ct_pending);
            __atomic_store_n(&rt->now_ns, clk.ns, __ATOMIC_RELAXED);
            at__ct_dump_point(rt, &clk, 1);
            if (++rs->polls_since_check < 61)
                continue;
        }
        uint64_t next = at__ct_maintenance(rt, &clk, t != NULL);
        if (t || rs->run_head || at__task_done(main_task))
            continue;
        at__ct_drain_inject(rt);
        if (rs->run_head)
            continue;
        at__park(rt, next);
        at__loop_clock_read(&clk);
    }
    /* Nobody drives rt once block_on returns: answer what is queued now
     * (only that, however fast requesters ask again). */
    if (at__dump_pending(rt))
        at__sched_safe_point(rt, AT__SAFE_POINT_DRAIN);
}

static int at__ct_block_on(at_runtime *rt, at_frame *future, const char *name,
                           const at_site *site)
{
    at__runtime *rs = at__rt(rt);
    if (rs->in_block_on)
        return AT_EINVAL;
    at_trace_context *tcx = at__thread_context();
    if (!tcx)
        return AT_ENOMEM;

    at_runtime *saved_rt = tcx->runtime;
    rs->in_block_on = 1;
    __atomic_store_n(&rs->owner, tcx, __ATOMIC_RELAXED);
    tcx->runtime = rt;

    at_join_handle h = at__spawn_frame(rt, future, name, site);
    int result = AT_ENOMEM;
    if (h.task) {
        atomic_fetch_or(&h.task->flags, AT_TF_BLOCK_ON);
        at__ct_run(rt, tcx, h.task);
        result = h.task->result == AT_ECANCELED ? AT_ECANCELED : 0;
    }
    rs->in_block_on = 0;
    __atomic_store_n(&rs->owner, NULL, __ATOMIC_RELAXED);
    tcx->runtime = saved_rt;
    at_join_handle_release(&h);
    return result;
}

const at__sched_ops at__ct_ops = {
    .name = "current-thread",
    .enqueue = at__ct_enqueue,
    .wake = at__ct_wake,
    .pending = at__ct_pending,
    .task_leaving = at__ct_task_leaving,
    .block_on = at__ct_block_on,
    .unpark = at__ct_unpark,
    .runq_pop = at__ct_runq_pop,
    .runq_push = at__ct_runq_push,
};
