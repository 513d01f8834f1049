/* sched.h - private interface of the scheduler (sched/): the part both
 * flavors share (scheduler.c: polling, the task state machine, block_on's
 * checks, shutdown's cancelling), the flavors' operation tables, run
 * queues, the loops' clock, timers, and the task memory the core provides.
 * Not installed. */
#ifndef AT_SCHED_H
#define AT_SCHED_H

#include "core/internal.h"

/* ---- Flavors (at__sched_ops, core/internal.h) ---- */

extern const at__sched_ops at__ct_ops; /* ct_scheduler.c */
extern const at__sched_ops at__mt_ops; /* mt_scheduler.c */

/* ---- Task queues (at__taskq_push is in core/internal.h) ---- */

/* Append the list first..last (linked through run_next, last's link
 * NULL); nothing when first is NULL. */
static inline void at__taskq_append(at_task **head, at_task **tail, at_task *first,
                                    at_task *last)
{
    if (!first)
        return;
    if (*tail)
        (*tail)->run_next = first;
    else
        *head = first;
    *tail = last;
}

static inline at_task *at__taskq_pop(at_task **head, at_task **tail)
{
    at_task *t = *head;
    if (t) {
        *head = t->run_next;
        if (!*head)
            *tail = NULL;
        t->run_next = NULL;
    }
    return t;
}

/* ---- What live dumps use (dump/) ---- */

/* Poll task t once on this thread through at_root_poll, with every state
 * transition (RUNNING, then IDLE / SCHEDULED again if woken meanwhile /
 * COMPLETE / CANCELLED).  The caller has taken t out of any run queue and
 * moved it to AT_TASK_SCHEDULED.  A live dump calls it with
 * tcx->collector set and AT_TF_TRACING on the task. */
at_poll_result at__task_run(at_trace_context *tcx, at_task *t);

/* The runtime's run queue as its flavor keeps it for a dump (the owner's
 * queue, or a stopped world's).  Pop returns NULL when empty. */
at_task *at__runq_pop(at_runtime *rt);
void at__runq_push(at_runtime *rt, at_task *t);

/* Wake a runtime's thread if it is parked (after setting rt->dump_state
 * from another thread, for example). */
void at__runtime_unpark(at_runtime *rt);

/* ---- Shared by both flavors (scheduler.c) ---- */

/* 1 once t reached COMPLETE or CANCELLED. */
static inline int at__task_done(at_task *t)
{
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    return s == AT_TASK_COMPLETE || s == AT_TASK_CANCELLED;
}

/* A dump request is queued (rt->dump_state is set by other threads): one
 * relaxed load, cheap enough for every poll (the safe point takes the queue
 * under its lock). */
static inline int at__dump_pending(const at_runtime *rt)
{
    return __atomic_load_n(&at__rt(rt)->dump_state, __ATOMIC_RELAXED) != NULL;
}

/* The earliest monotonic time a busy runtime serves its next dump, or
 * UINT64_MAX when none is queued (a parked worker wakes by then). */
static inline uint64_t at__dump_due_ns(const at_runtime *rt)
{
    if (!at__dump_pending(rt))
        return UINT64_MAX;
    return __atomic_load_n(&at__rt(rt)->dump_not_before, __ATOMIC_RELAXED);
}

/* The live-dump safe point, registered by the dump subsystem through
 * at__sched_set_safe_point (rt/runtime.c wires it): the loops call
 * at__sched_safe_point between two polls when at__dump_pending.  `busy`:
 * the runtime has tasks waiting to run (bounded serving, dump_request.c:
 * one request per call, and while busy only once rt->dump_not_before has
 * passed). */
void at__sched_set_safe_point(void (*fn)(at_runtime *rt, int busy));
/* `busy` value: serve the requests queued at this moment, then return
 * (at_block_on's end: nobody drives the runtime after it). */
#define AT__SAFE_POINT_DRAIN (-1)
void at__sched_safe_point(at_runtime *rt, int busy);

/* Set up the scheduling part of a new runtime (lock, park condition, the
 * flavor's table and threads).  0, or AT_ENOMEM with nothing left. */
int at__sched_init(at_runtime *rt, const at_runtime_options *opts);
/* Undo at__sched_init once no task can be queued any more. */
void at__sched_fini(at_runtime *rt);
/* Cancel every unfinished task of rt on this thread (shutdown). */
void at__sched_cancel_all(at_runtime *rt);
/* Detach every task still referenced (handles, wakers) from rt and empty
 * its queues (at_runtime_free); they hold the task pool until freed. */
void at__sched_detach_all(at_runtime *rt);
/* A task's final state (COMPLETE / CANCELLED) with its result. */
void at__task_cancel(at_task *t);

/* The root poll: pushes the root frame and polls the task's future.  It
 * stays in the dynamic symbol table (the only exported name outside the
 * public headers besides asynctrace_debug) so a debugger finds the task's
 * root frame by name even in a stripped shared library. */
AT_NOINLINE __attribute__((visibility("default")))
at_poll_result at_root_poll(at_trace_context *tcx, at_task *t);

/* ---- Seeded schedules (seed.c) ----
 *
 * The generator state for stream `stream` (a runtime id, a worker) of the
 * seed in ASYNCTRACE_SCHED_SEED; 0 when no seed is set. */
uint64_t at__sched_seed_state(uint64_t stream);
/* The next pseudo-random number of a non-zero state. */
uint64_t at__sched_rand(uint64_t *state);
/* Current-thread: take a random task of the run queue (rt->sched_rng set). */
at_task *at__runq_pop_seeded(at_runtime *rt);
/* A new runtime, once it has its id: its generator (rt->sched_rng). */
void at__sched_seed(at_runtime *rt);

/* ---- The scheduler loops' clock ----
 *
 * A loop reads the monotonic clock once per poll: the reading that ends a
 * poll is the next poll's start.  Where the time-stamp counter runs at a
 * constant rate (x86 with an invariant TSC), even that reading is reused
 * while fewer than AT__TSC_FRESH cycles have passed since it was taken
 * (about 130 us at 1 GHz, less at real TSC rates): reading the TSC costs a
 * few ns, the clock about 25.  Every timestamp a loop writes is therefore
 * no later than the truth and at most that much earlier.  docs/runtime.md,
 * "Timestamps". */
#define AT__TSC_FRESH (1ull << 17)

typedef struct at__loop_clock {
    uint64_t ns;  /* last clock reading */
    uint64_t tsc; /* the TSC just before it */
} at__loop_clock;

/* Set once at start-up: the TSC may be used to age readings. */
extern int at__tsc_usable;

#if defined(__x86_64__)
#include <x86intrin.h>
#define AT__HAVE_TSC 1
#else
#define AT__HAVE_TSC 0
#endif

/* A fresh reading. */
static inline uint64_t at__loop_clock_read(at__loop_clock *c)
{
#if AT__HAVE_TSC
    if (at__tsc_usable)
        c->tsc = __rdtsc();
#endif
    return c->ns = at_now_ns();
}

/* The time now, give or take AT__TSC_FRESH cycles. */
static inline uint64_t at__loop_clock_now(at__loop_clock *c)
{
#if AT__HAVE_TSC
    if (at__tsc_usable && __rdtsc() - c->tsc < AT__TSC_FRESH)
        return c->ns;
#endif
    return at__loop_clock_read(c);
}

/* at__task_run for scheduler loops: the poll starts at clk->ns (a reading
 * taken just before: the previous poll's end, or fresher) and clk holds the
 * poll's end afterwards. */
at_poll_result at__task_run_at(at_trace_context *tcx, at_task *t, at__loop_clock *clk);

/* A task's final state (COMPLETE / CANCELLED) with its result and the time
 * of the change; drops the runtime's reference. */
void at__task_finish(at_task *t, uint32_t final_state, int result, uint64_t now);

/* The body of at__task_run_at, inline so that a flavor's loop calls its
 * own `pending` operation directly (the current-thread loop); `pending` is
 * the flavor's at__sched_ops.pending.
 *
 * One clock reading per poll at most: the reading that ends a poll is the
 * next poll's start; the loops take a fresh one after anything that may
 * take long between two polls (parking, a dump). */
static inline __attribute__((always_inline)) at_poll_result
at__task_poll(at_trace_context *tcx, at_task *t, at__loop_clock *clk,
              void (*pending)(at_runtime *rt, at_task *t))
{
    uint32_t flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
    if (__builtin_expect(flags & AT_TF_ABORT, 0)) {
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
    if (__builtin_expect(flags & AT_TF_NOTIFIED, 0))
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
    pending(t->runtime, t);
    return AT_PENDING;
}

#endif
