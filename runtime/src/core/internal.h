/* internal.h - private to the runtime's implementation; never installed.
 *
 * Shared helpers for the scheduler and the primitives: spin locks, wait
 * queues of at_waiter nodes, leaf set-up, the thread context, clocks. */
#ifndef AT_INTERNAL_H
#define AT_INTERNAL_H

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "asynctrace.h"

/* ---- Spin lock (primitives hold it for a few instructions only) ---- */

/* Pauses before a waiter gives its CPU away: a holder that was preempted
 * (more runnable threads than CPUs) cannot release the lock until it runs
 * again, so spinning on would only burn the waiter's time slice. */
#define AT__SPINS_BEFORE_YIELD 128u

static inline void at__spin_lock(_Atomic uint32_t *l)
{
    unsigned spins = 0;
    for (;;) {
        if (!atomic_exchange_explicit(l, 1, memory_order_acquire))
            return;
        while (atomic_load_explicit(l, memory_order_relaxed)) {
            if (++spins < AT__SPINS_BEFORE_YIELD) {
                __builtin_ia32_pause();
            } else {
                sched_yield();
                spins = 0;
            }
        }
    }
}
static inline void at__spin_unlock(_Atomic uint32_t *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

/* ---- Wait queues: doubly linked lists of at_waiter, FIFO ---- */
static inline void at__waitq_push(at_waiter **head, at_waiter **tail, at_waiter *w)
{
    w->next = 0;
    w->prev = *tail;
    if (*tail)
        (*tail)->next = w;
    else
        *head = w;
    *tail = w;
}
static inline void at__waitq_remove(at_waiter **head, at_waiter **tail, at_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        *head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        *tail = w->prev;
    w->next = w->prev = 0;
}
static inline at_waiter *at__waitq_pop(at_waiter **head, at_waiter **tail)
{
    at_waiter *w = *head;
    if (w)
        at__waitq_remove(head, tail, w);
    return w;
}

/* ---- Leaves ---- */

/* A static site record for a primitive's leaf poll function. */
#define AT__LEAF_SITE(var, fname, poll_fn, drop_fn)                            \
    static const at_site var = {AT_SITE_MAGIC, AT_KIND_LEAF, fname, __FILE__,  \
                                __LINE__, 0, (poll_fn), (drop_fn)}

/* A static site record for a combinator. */
#define AT__COMBINATOR_SITE(var, kind, fname, poll_fn, drop_fn)                \
    static const at_site var = {AT_SITE_MAGIC, (kind), fname, __FILE__,        \
                                __LINE__, 0, (poll_fn), (drop_fn)}

/* Initialise a leaf's frame and wait record (not yet waiting). */
static inline at_frame *at__leaf_init(at_leaf *l, const at_site *site,
                                      uint32_t kind, const void *object)
{
    at_frame_init(&l->frame, site);
    l->wait.kind = kind;
    l->wait.flags = 0;
    l->wait.object = object;
    l->wait.since_ns = 0;
    l->wait.detail[0] = l->wait.detail[1] = l->wait.detail[2] = 0;
    return &l->frame;
}

/* This thread's context if it has one, without creating it. */
extern __thread at_trace_context *at__tls_context;

/* A timestamp for a state change (a wake, the start of a wait), cheaper than
 * at_now_ns() inside a poll: there, the later of the poll's start and the
 * coarse monotonic clock (a few ns instead of a full clock read).  Never
 * later than the true time; earlier by at most one clock tick, and never by
 * more than the poll has been running.  Outside a poll: at_now_ns(). */
static inline uint64_t at__stamp_ns(void)
{
    at_trace_context *c = at__tls_context;
    struct timespec ts;
    if (!c || !c->current || clock_gettime(CLOCK_MONOTONIC_COARSE, &ts))
        return at_now_ns();
    uint64_t coarse = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    return coarse > c->poll_start_ns ? coarse : c->poll_start_ns;
}

/* Mark the start of a wait (first Pending); keeps the first time. */
static inline void at__leaf_waiting(at_leaf *l)
{
    if (!l->wait.since_ns)
        l->wait.since_ns = at__stamp_ns();
}

/* ---- Thread context ---- */

/* This thread's trace context, created and registered on first use
 * (NULL only if out of memory). */
at_trace_context *at__thread_context(void);
/* Record a clock reading in the descriptor (for cores); refreshes the
 * descriptor's clock pair at most once a second. */
void at__record_clock(uint64_t now);
/* Read CLOCK_MONOTONIC and CLOCK_REALTIME together into the descriptor. */
void at__record_clock_pair(void);

/* Bump the descriptor's generation (structural change). */
void at__generation_bump(void);

/* Descriptor lock: guards the runtime and thread lists. */
void at__registry_lock(void);
void at__registry_unlock(void);

/* Task reference counting (scheduler.c). */
void at__task_ref(at_task *t);
void at__task_unref(at_task *t);
/* Schedule a task (wake).  From any thread. */
void at__task_wake(at_task *t);

/* Timers (time.c): fire expired timers of rt, return the earliest pending
 * deadline or UINT64_MAX. */
uint64_t at__timers_fire(at_runtime *rt, uint64_t now);
/* Cancel every timer of a runtime being freed. */
void at__timers_free(at_runtime *rt);

/* ---- Scheduler hooks used by live dumps (scheduler.c) ---- */

/* Poll task t once on this thread through at_root_poll, with every state
 * transition (RUNNING, then IDLE / SCHEDULED again if woken meanwhile /
 * COMPLETE / CANCELLED).  The caller has taken t out of any run queue and
 * moved it to AT_TASK_SCHEDULED.  A live dump calls it with
 * tcx->collector set and AT_TF_TRACING on the task. */
at_poll_result at__task_run(at_trace_context *tcx, at_task *t);

/* Run queue of a current-thread runtime (local queue, then the injection
 * queue of wakes from other threads).  Pop returns NULL when empty. */
at_task *at__runq_pop(at_runtime *rt);
void at__runq_push(at_runtime *rt, at_task *t);

/* Called by the scheduler loop between two polls (a safe point) whenever
 * rt->dump_state is not NULL.  Implemented by the live-dump module. */
void at__dump_safe_point(at_runtime *rt);

/* The dump subsystem's registration, called by at_runtime_new for every
 * new runtime (dump_request.c): the first call reads the environment's dump
 * signal settings.  Explicit on purpose, see scheduler.c. */
void at__dump_attach(at_runtime *rt);
/* Called from at_runtime_shutdown: completes every request still queued for
 * rt with AT_ESHUTDOWN so no requester waits on a freed runtime. */
void at__dump_runtime_free(at_runtime *rt);

/* The snapshot walk of one runtime over trusted memory (no checked reads):
 * for live dumps, taken while that runtime is stopped at a safe point. */
at_dump *at__snapshot_direct(const at_runtime *rt);

/* Wake a runtime's thread if it is parked (after setting rt->dump_state
 * from another thread, for example). */
void at__runtime_unpark(at_runtime *rt);

#endif
