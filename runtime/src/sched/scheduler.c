/* scheduler.c - what both scheduler flavors share: polling a task through
 * at_root_poll with the task state machine around it, at_block_on's common
 * checks, the live-dump safe point, and the scheduling part of creating,
 * shutting down and freeing a runtime.  The flavors are behind their
 * operation tables (at__sched_ops): the current-thread flavor in
 * ct_scheduler.c, the multi-thread one in mt_scheduler.c.
 *
 * Task state machine (atomic, see docs/runtime.md):
 *
 *   spawn -> SCHEDULED -> RUNNING -> IDLE -> (wake) SCHEDULED -> ...
 *                            |  \-> COMPLETE          (future Ready)
 *                            \----> CANCELLED         (abort observed)
 *
 * A wake of a RUNNING task sets AT_TF_NOTIFIED; the poller re-schedules the
 * task when the poll returns Pending (the flavor's `pending` operation).
 *
 * Multi-thread runtime: only a successful IDLE -> SCHEDULED compare-and-swap
 * queues a task, so a task is never queued twice and never polled by two
 * threads at once.
 *
 * Current-thread runtime: the state of a task is written only by the thread
 * driving its runtime (the owner, inside at_block_on); any other thread
 * asks the owner (ct_scheduler.c). */
#include <stdlib.h>
#include <time.h>

#include "sched/io.h"
#include "sched/sched.h"

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

/* ---- The live-dump safe point ---- */

static void (*at__safe_point_fn)(at_runtime *rt, int busy);

void at__sched_set_safe_point(void (*fn)(at_runtime *rt, int busy))
{
    __atomic_store_n(&at__safe_point_fn, fn, __ATOMIC_RELEASE);
}

void at__sched_safe_point(at_runtime *rt, int busy)
{
    void (*fn)(at_runtime *, int) = __atomic_load_n(&at__safe_point_fn, __ATOMIC_ACQUIRE);
    if (fn)
        fn(rt, busy);
}

/* ---- Runtime set-up and tear-down (the scheduling part) ---- */

int at__sched_init(at_runtime *rt, const at_runtime_options *opts)
{
    at__runtime *rs = at__rt(rt);
    rt->workers = 1;
    rs->sched_ops = rt->flavor == AT_FLAVOR_MULTI_THREAD ? &at__mt_ops : &at__ct_ops;
    pthread_mutex_init(&rs->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rs->park, &ca);
    pthread_condattr_destroy(&ca);
    if (rs->sched_ops->start && rs->sched_ops->start(rt, opts) < 0) {
        pthread_mutex_destroy(&rs->lock);
        pthread_cond_destroy(&rs->park);
        return AT_ENOMEM;
    }
    return 0;
}

void at__sched_fini(at_runtime *rt)
{
    at__runtime *rs = at__rt(rt);
    if (rs->sched_ops->shutdown)
        rs->sched_ops->shutdown(rt);
    at__io_driver_free(rt);
    if (rs->sched_ops->free)
        rs->sched_ops->free(rt);
    pthread_mutex_destroy(&rs->lock);
    pthread_cond_destroy(&rs->park);
}

void at__sched_cancel_all(at_runtime *rt)
{
    /* Cancelling can free tasks, so restart the scan after each one. */
    for (;;) {
        at_task *victim = NULL;
        at__spin_lock(&at__rt(rt)->owned_lock);
        for (at_task *t = rt->owned_head; t; t = t->owned_next)
            if (!at__task_done(t)) {
                victim = t;
                at__task_ref(victim);
                break;
            }
        at__spin_unlock(&at__rt(rt)->owned_lock);
        if (!victim)
            break;
        at__task_cancel(victim);
        at__task_unref(victim);
    }
}

void at__sched_detach_all(at_runtime *rt)
{
    at__runtime *rs = at__rt(rt);
    pthread_mutex_lock(&rs->lock);
    at__spin_lock(&rs->owned_lock);
    /* Their memory stays valid: each holds the task pool until freed. */
    at__pool_hold(rt, rt->task_count);
    while (rt->owned_head) {
        at_task *t = rt->owned_head;
        at__owned_unlink_locked(rt, t);
        /* Off the wake-request list (emptied below as a whole). */
        __atomic_store_n(&t->sched_data, NULL, __ATOMIC_RELAXED);
        t->runtime = NULL;
    }
    at__spin_unlock(&rs->owned_lock);
    __atomic_store_n(&rs->wake_head, NULL, __ATOMIC_RELAXED);
    rs->run_head = rs->run_tail = NULL;
    rs->inject_head = rs->inject_tail = NULL;
    pthread_mutex_unlock(&rs->lock);
}

/* ---- Run queues as a live dump sees them ---- */

at_task *at__runq_pop(at_runtime *rt)
{
    return at__rt(rt)->sched_ops->runq_pop(rt);
}

void at__runq_push(at_runtime *rt, at_task *t)
{
    at__rt(rt)->sched_ops->runq_push(rt, t);
}

void at__runtime_unpark(at_runtime *rt)
{
    at__rt(rt)->sched_ops->unpark(rt);
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

void at__task_finish(at_task *t, uint32_t final_state, int result, uint64_t now)
{
    t->result = (int16_t)result;
    __atomic_store_n(&t->state_ns, now, __ATOMIC_RELAXED);
    atomic_store_explicit(&t->state, final_state, memory_order_release);
    at__task_notify_joiner(t);
    at_runtime *rt = t->runtime;
    if (rt && at__rt(rt)->sched_ops->block_on_done &&
        (atomic_load_explicit(&t->flags, memory_order_relaxed) & AT_TF_BLOCK_ON))
        at__rt(rt)->sched_ops->block_on_done(rt);
    at__task_unref(t); /* the runtime's reference */
}

void at__task_cancel(at_task *t)
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

at_poll_result at__task_run_at(at_trace_context *tcx, at_task *t, at__loop_clock *clk)
{
    return at__task_poll(tcx, t, clk, at__rt(t->runtime)->sched_ops->pending);
}

/* ---- block_on ---- */

int at__block_on(at_runtime *rt, at_frame *future, const char *name,
                 const at_site *site)
{
    if (!rt || !future)
        return AT_EINVAL;
    if (__atomic_load_n(&rt->flags, __ATOMIC_ACQUIRE) & AT_RTF_SHUTDOWN)
        return AT_ESHUTDOWN;
    return at__rt(rt)->sched_ops->block_on(rt, future, name, site);
}
