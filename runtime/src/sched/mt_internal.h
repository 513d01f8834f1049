/* mt_internal.h - private to the runtime's implementation; never installed.
 *
 * The multi-thread flavor (mt_scheduler.c: workers, local queues,
 * injection queue, stealing, parking, multi-thread block_on) as the rest of
 * sched/ and the live dumps (dump/mt_dump.c, stop-the-world) see it.  The
 * flavor's scheduling operations are in its table, at__mt_ops (sched.h).
 * Every function here is called with the runtime alive. */
#ifndef AT_MT_INTERNAL_H
#define AT_MT_INTERNAL_H

#include "core/internal.h"
#include "sched/io.h"
#include "sched/sched.h"

/* ---- Multi-thread scheduler (mt_scheduler.c) ---- */

/* Stop-the-world, for live dumps.  Called by a worker at its safe point:
 * every other worker is brought to a barrier (parked ones are woken) and
 * waited for up to timeout_ns; the ones that do not arrive are "stuck" in a
 * poll.  Returns the number of stuck workers.  Until at__mt_resume_world no
 * worker of rt takes a task from any queue.  Dumps are serialised: a second
 * caller waits until the first resumes the world. */
unsigned at__mt_stop_world(at_runtime *rt, uint64_t timeout_ns);
void at__mt_resume_world(at_runtime *rt);
/* During a stop: 1 if worker i did not reach the barrier, with the task it
 * was polling then (or NULL) and its thread id. */
int at__mt_stuck(at_runtime *rt, unsigned i, const at_task **task, int32_t *tid);
unsigned at__mt_workers(at_runtime *rt);
/* 1 if this thread is one of rt's workers. */
int at__mt_is_worker(const at_runtime *rt);

/* How long a dump waits for every worker at the barrier. */
#define AT__STOP_TIMEOUT_NS (250 * AT_MS)

#endif
