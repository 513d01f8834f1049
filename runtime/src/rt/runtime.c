/* runtime.c - a runtime put together: at_runtime_new, at_runtime_shutdown
 * and at_runtime_free.  The one place that wires the subsystems to each
 * other, by explicit calls: the scheduler (sched/), the task memory
 * (core/), the descriptor's runtime list (trace/) and the dump subsystem
 * (dump/: attached to every runtime, its safe point registered with the
 * scheduler).  Those strong references are also what makes a static link
 * pull the dump objects in, so a program that never calls a dump function
 * still answers the dump signal (never weak symbols). */
#include <stdlib.h>

#include "sched/io.h"
#include "sched/sched.h"
#include "trace/trace_internal.h"

static uint64_t at__next_runtime_id = 1;

/* The runtime list's back link is private (at__runtime.prev); next is in
 * the public head, where a debugger follows it. */
#define AT__RT_PRIVATE_FIELD(r, f) (at__rt(r)->f)

/* ---- Runtime list in the descriptor ---- */

static void at__runtime_register(at_runtime *rt)
{
    at__registry_lock();
    rt->id = at__next_runtime_id++;
    AT__LIST_PUSH_HEAD_VIA(asynctrace_debug.runtimes, rt, AT__LINK_FIELD, next,
                           AT__RT_PRIVATE_FIELD, prev);
    at__generation_bump();
    at__registry_unlock();
}

static void at__runtime_unregister(at_runtime *rt)
{
    at__registry_lock();
    AT__LIST_UNLINK_VIA(asynctrace_debug.runtimes, rt, AT__LINK_FIELD, next,
                        AT__RT_PRIVATE_FIELD, prev);
    at__generation_bump();
    at__registry_unlock();
}

at_runtime *at_runtime_new(const at_runtime_options *opts)
{
    at_flavor flavor = opts ? opts->flavor : AT_FLAVOR_CURRENT_THREAD;
    if (flavor != AT_FLAVOR_CURRENT_THREAD && flavor != AT_FLAVOR_MULTI_THREAD)
        return NULL;
    at__runtime *state = calloc(1, sizeof(*state));
    if (!state)
        return NULL;
    at_runtime *rt = &state->head;
    rt->flavor = flavor;
    rt->now_ns = at_now_ns();
    at__record_clock(rt->now_ns);
    at__record_clock_pair();
    at__sched_set_safe_point(at__dump_safe_point);
    if (at__sched_init(rt, opts) < 0) {
        free(state);
        return NULL;
    }
    /* No task can exist before rt is returned, so the workers (already
     * running) allocate nothing before the pool is there. */
    if (at__pool_new(rt, rt->workers) < 0) {
        at__sched_fini(rt);
        free(state);
        return NULL;
    }
    rt->magic = AT_RUNTIME_MAGIC;
    at__runtime_register(rt);
    at__sched_seed(rt);
    at__dump_attach(rt);
    return rt;
}

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
    if (at__rt(rt)->sched_ops->shutdown)
        at__rt(rt)->sched_ops->shutdown(rt);
    /* Dump requests still queued for rt are answered with AT_ESHUTDOWN. */
    at__dump_runtime_free(rt);
    /* Cancel every unfinished task (drop hooks run; joiners are woken and
     * see AT_ECANCELED). */
    at__sched_cancel_all(rt);
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
    /* Tasks still referenced by handles or wakers outlive the runtime. */
    at__sched_detach_all(rt);
    at__sched_fini(rt);
    at__pool_release(rt);
    at__runtime_unregister(rt);
    rt->magic = AT_DEAD_MAGIC;
    free(at__rt(rt));
}
