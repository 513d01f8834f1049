/* mt_dump.c - live dumps of a multi-thread runtime: the dumping worker
 * stops the world (mt_scheduler.c: barrier with a timeout, every queue and
 * LIFO slot stolen), takes the same live dump as a current-thread runtime
 * (livedump.c: its run queue is then the stolen tasks), marks the tasks of
 * workers that did not reach the barrier, and resumes the world.
 *
 * A worker stuck inside a poll does not hold the dump up: after
 * AT__STOP_TIMEOUT_NS the dump goes on without it.  Its task is left alone
 * (it is RUNNING, so the live dump never polls it) and is reported as
 * running on that worker, untraceable; the dump says which worker. */
#include "sched/mt_internal.h"
#include "trace/trace_internal.h"

at_dump *at__mt_live_dump(at_runtime *rt, at_trace_context *tcx, at_task *requester)
{
    at__mt_stop_world(rt, AT__STOP_TIMEOUT_NS);
    at_dump *d = at__live_dump(rt, tcx, requester);
    unsigned n = at__mt_workers(rt);
    at_dump_runtime *r = d && d->nruntimes ? &d->runtimes[0] : NULL;
    for (unsigned i = 0; d && i < n; i++) {
        const at_task *t;
        int32_t tid;
        if (!at__mt_stuck(rt, i, &t, &tid))
            continue;
        uint64_t id = 0;
        for (size_t k = 0; r && t && k < r->ntasks; k++)
            if (r->tasks[k].address == (uint64_t)(uintptr_t)t &&
                r->tasks[k].state == AT_TASK_RUNNING) {
                id = r->tasks[k].id;
                r->tasks[k].trace_note = at_dump_printf(
                    d, "running: on worker %u (thread %d), stuck in its poll; untraceable", i,
                    (int)tid);
            }
        at_dump_note(d,
                     "worker %u (thread %d) did not reach the dump's safe point within %llu ms: "
                     "the task it polls (%llu) was not traced",
                     i, (int)tid, (unsigned long long)(AT__STOP_TIMEOUT_NS / AT_MS),
                     (unsigned long long)id);
    }
    at__mt_resume_world(rt);
    return d;
}
