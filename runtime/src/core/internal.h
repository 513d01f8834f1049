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
#include "core/list.h"
#include "core/runtime_state.h"

/* ---- Spin lock (primitives hold it for a few instructions only) ---- */

/* Pauses before a waiter gives its CPU away: a holder that was preempted
 * (more runnable threads than CPUs) cannot release the lock until it runs
 * again, so spinning on would only burn the waiter's time slice. */
#define AT__SPINS_BEFORE_YIELD 128u

/* One pause of a spin-wait: the CPU's pause hint, and a yield of the time
 * slice every AT__SPINS_BEFORE_YIELD pauses. */
static inline void at__spin_pause(unsigned *spins)
{
    if (++*spins < AT__SPINS_BEFORE_YIELD) {
        __builtin_ia32_pause();
    } else {
        sched_yield();
        *spins = 0;
    }
}
static inline void at__spin_lock(_Atomic uint32_t *l)
{
    unsigned spins = 0;
    while (atomic_exchange_explicit(l, 1, memory_order_acquire))
        while (atomic_load_explicit(l, memory_order_relaxed))
            at__spin_pause(&spins);
}
static inline void at__spin_unlock(_Atomic uint32_t *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}
/* The same on one byte (at_task.join_lock, packed with other fields). */
static inline void at__spin_lock8(_Atomic uint8_t *l)
{
    unsigned spins = 0;
    while (atomic_exchange_explicit(l, 1, memory_order_acquire))
        while (atomic_load_explicit(l, memory_order_relaxed))
            at__spin_pause(&spins);
}
static inline void at__spin_unlock8(_Atomic uint8_t *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

/* A debugger-visible waiter count changes under the object's lock but is
 * read without it (debuggers, scenario checkpoints): relaxed atomic
 * updates keep those reads defined. */
static inline void at__count_up(uint32_t *c)
{
    __atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}
static inline void at__count_down(uint32_t *c)
{
    __atomic_store_n(c, *c - 1, __ATOMIC_RELAXED);
}

/* ---- Wait queues: FIFO queues of at_waiter (core/list.h) ---- */
static inline void at__waitq_push(at_waiter **head, at_waiter **tail, at_waiter *w)
{
    AT__QUEUE_PUSH_TAIL(*head, *tail, w, next, prev);
}
static inline void at__waitq_remove(at_waiter **head, at_waiter **tail, at_waiter *w)
{
    AT__QUEUE_REMOVE(*head, *tail, w, next, prev);
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
    l->wait.detail[0] = 0;
    return &l->frame;
}

/* This thread's context if it has one, without creating it. */
extern __thread at_trace_context *at__tls_context;

/* A timestamp for a state change (a wake, a spawn, the start of a wait).
 * Inside a poll it is the poll's start, with no clock reading at all: never
 * later than the true time, and earlier by at most the time the poll had
 * been running when it made the change (a scheduler loop's poll start is
 * itself at most its clock's reuse bound early, sched.h).  Outside a poll:
 * at_now_ns(). */
static inline uint64_t at__stamp_ns(void)
{
    at_trace_context *c = at__tls_context;
    if (__builtin_expect(!c || !c->current, 0))
        return at_now_ns();
    return c->poll_start_ns;
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

/* Task reference counting (task.c). */
void at__task_ref(at_task *t);
void at__task_unref(at_task *t);
/* The wake of at__task_wake that goes to the runtime's scheduler flavor
 * (at__sched_ops.wake), or the shared wake for a detached task. */
void at__task_wake_slow(at_task *t);

/* ---- Scheduler operations ----
 *
 * What the core (task.c) and the runtime's assembly (rt/) ask of a
 * scheduler flavor.  Each flavor (sched/ct_scheduler.c, current-thread;
 * sched/mt_scheduler.c, multi-thread) fills one table; at_runtime_new puts
 * it in rt->sched_ops.  Calls go down through this table only (except the
 * owner-thread wake of a current-thread runtime, at__task_wake below): the
 * core never names a flavor otherwise.  NULL entries do nothing. */
typedef struct at__sched_ops {
    const char *name;
    /* Start the flavor's threads for a new runtime: 0 or AT_ENOMEM. */
    int (*start)(at_runtime *rt, const at_runtime_options *opts);
    /* Queue a task that just became SCHEDULED (spawn). */
    void (*enqueue)(at_runtime *rt, at_task *t);
    /* A wake of t (any thread). */
    void (*wake)(at_runtime *rt, at_task *t);
    /* A poll of t returned Pending on this thread: publish IDLE, then act
     * on a wake or an abort that came during the poll. */
    void (*pending)(at_runtime *rt, at_task *t);
    /* A task marked AT_TF_BLOCK_ON reached a final state. */
    void (*block_on_done)(at_runtime *rt);
    /* t is being freed: take it off any list of the flavor.  Returns 1
     * with rt->lock held (the caller unlocks it after the owned-list
     * unlink, lock order rt->lock then rt->owned_lock), else 0. */
    int (*task_leaving)(at_runtime *rt, at_task *t);
    /* at_block_on after the common checks. */
    int (*block_on)(at_runtime *rt, at_frame *future, const char *name,
                    const at_site *site);
    /* Wake the runtime's parked thread(s) (a dump request came). */
    void (*unpark)(at_runtime *rt);
    /* The run queue as a live dump sees it (stopped world / owner). */
    at_task *(*runq_pop)(at_runtime *rt);
    void (*runq_push)(at_runtime *rt, at_task *t);
    /* Stop the flavor's threads (each finishes its poll), then free its
     * state once no task can be queued any more. */
    void (*shutdown)(at_runtime *rt);
    void (*free)(at_runtime *rt);
} at__sched_ops;

/* The shared wake: IDLE -> SCHEDULED by compare-and-swap (queued through
 * rt's enqueue when rt is not NULL), NOTIFIED on a RUNNING task.  Used by
 * the multi-thread flavor and for tasks detached from their runtime. */
void at__task_wake_shared(at_runtime *rt, at_task *t);

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

/* ---- Task queues: FIFO lists of tasks linked through run_next ----
 *
 * The one implementation of every run and injection queue of both
 * flavors (a queue is a head and a tail pointer). */

static inline void at__taskq_push(at_task **head, at_task **tail, at_task *t)
{
    t->run_next = NULL;
    if (*tail)
        (*tail)->run_next = t;
    else
        *head = t;
    *tail = t;
}

/* ---- Waking ----
 *
 * The one exception to "calls go down through the operation table": the
 * thread driving a current-thread runtime (rs->owner, set by at_block_on
 * and only by it) is the only writer of its tasks' states and of its run
 * queue, so its wakes, the common case of a channel or a mutex handing
 * over between two tasks of that runtime, are done inline: no call, no
 * lock, no read-modify-write.  ct_scheduler.c uses the same function for
 * its own wakes. */

/* On the owner thread of t's current-thread runtime rt: IDLE ->
 * SCHEDULED (stamped, queued at the back of the run queue); a RUNNING
 * task is marked NOTIFIED (its poller re-queues it when it returns
 * Pending); a task scheduled already or finished stays as it is. */
static inline void at__ct_wake_local(at_runtime *rt, at_task *t)
{
    uint32_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
    if (s == AT_TASK_IDLE) {
        atomic_store_explicit(&t->state, AT_TASK_SCHEDULED, memory_order_relaxed);
        at__stamp_state(t);
        at__taskq_push(&at__rt(rt)->run_head, &at__rt(rt)->run_tail, t);
    } else if (s == AT_TASK_RUNNING) {
        atomic_fetch_or_explicit(&t->flags, AT_TF_NOTIFIED, memory_order_relaxed);
    }
}

/* Schedule a task (wake).  From any thread: on the owner thread of its
 * current-thread runtime inline, else through its runtime's flavor. */
static inline void at__task_wake(at_task *t)
{
    at_trace_context *c = at__tls_context;
    at_runtime *rt = t->runtime;
    /* rs->owner is read by any thread: an atomic load. */
    if (c && rt && __atomic_load_n(&at__rt(rt)->owner, __ATOMIC_RELAXED) == c)
        at__ct_wake_local(rt, t);
    else
        at__task_wake_slow(t);
}

/* Timers (time.c): fire expired timers of rt, return the earliest pending
 * deadline or UINT64_MAX. */
uint64_t at__timers_fire(at_runtime *rt, uint64_t now);
/* Cancel every timer of a runtime being freed. */
void at__timers_free(at_runtime *rt);

/* Owned-list unlink; caller holds rt->owned_lock (task.c). */
void at__owned_unlink_locked(at_runtime *rt, at_task *t);

/* Wake the joiner of a task whose state became final (task.c). */
void at__task_notify_joiner(at_task *t);

/* ---- Task memory (task_pool.c) ---- */

/* Give rt a task pool with `ncaches` per-thread caches (1 for a
 * current-thread runtime, one per worker).  0 or AT_ENOMEM. */
int at__pool_new(at_runtime *rt, unsigned ncaches);
/* A zeroed block of at least `size` bytes for a task of rt; its size class
 * goes to *cls (keep it in at_task.alloc_class).  NULL when out of memory. */
void *at__pool_alloc(at_runtime *rt, size_t size, uint32_t *cls);
/* Free a task's block; rt is NULL for a task detached from its runtime. */
void at__pool_free(at_runtime *rt, void *block, uint32_t cls);
/* at_runtime_free: n tasks are about to be detached (before it detaches
 * them), then the runtime lets go of the pool (after). */
void at__pool_hold(at_runtime *rt, uint64_t n);
void at__pool_release(at_runtime *rt);

#endif
