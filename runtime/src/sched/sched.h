/* sched.h - private interface between tasks (task.c), timers (time.c) and
 * the scheduler (scheduler.c).  Not installed. */
#ifndef AT_SCHED_H
#define AT_SCHED_H

#include "core/internal.h"

/* Queue a task that just became SCHEDULED on its runtime. */
void at__sched_enqueue(at_runtime *rt, at_task *t);

/* Owned-list unlink; caller holds rt->owned_lock. */
void at__owned_unlink_locked(at_runtime *rt, at_task *t);

/* Current-thread: a task being freed leaves the wake-request list.  Caller
 * holds rt->lock. */
void at__ct_wake_forget(at_runtime *rt, at_task *t);

/* Wake the joiner of a task whose state became final. */
void at__task_notify_joiner(at_task *t);

/* The root poll: pushes the root frame and polls the task's future. */
AT_NOINLINE at_poll_result at_root_poll(at_trace_context *tcx, at_task *t);

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
