/* mt_internal.h - private to the runtime's implementation; never installed.
 *
 * The interface between the core scheduler (scheduler.c) and the parts that
 * make a runtime multi-threaded or able to wait on file descriptors:
 *   mt_scheduler.c  workers, local queues, injection queue, stealing,
 *                   parking, multi-thread block_on, stop-the-world for dumps
 *   io.c            the epoll driver (readiness, eventfd wake-ups)
 *   blocking.c      the spawn_blocking thread pool
 * Every function here is called with the runtime alive. */
#ifndef AT_MT_INTERNAL_H
#define AT_MT_INTERNAL_H

#include "core/internal.h"
#include "sched/sched.h"

/* ---- Multi-thread scheduler (mt_scheduler.c) ---- */

/* Create the workers of a multi-thread runtime (rt->sched).  `workers` 0
 * means the number of CPUs.  0 or AT_ENOMEM (nothing left behind). */
int at__mt_start(at_runtime *rt, unsigned workers, const char *name);
/* Stop every worker (each finishes the poll it is in) and join them. */
void at__mt_shutdown(at_runtime *rt);
/* Free the scheduler state once no task can be queued any more. */
void at__mt_free(at_runtime *rt);
/* Queue a task that just became SCHEDULED (from any thread). */
void at__mt_enqueue(at_runtime *rt, at_task *t);
/* at_block_on on a multi-thread runtime: the caller sleeps until the task
 * is done.  AT_EINVAL from one of rt's own workers. */
int at__mt_block_on(at_runtime *rt, at_frame *future, const char *name,
                    const at_site *site);
/* A task marked AT_TF_BLOCK_ON reached a final state. */
void at__mt_block_on_done(at_runtime *rt);
/* Wake parked workers so one reaches a safe point soon (dump requests). */
void at__mt_unpark(at_runtime *rt);
/* Run queue of a stopped world (the dumping worker only): pop takes every
 * task still queued anywhere; push parks a task until the world resumes. */
at_task *at__mt_runq_pop(at_runtime *rt);
void at__mt_runq_push(at_runtime *rt, at_task *t);

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

/* ---- I/O driver (io.c) ---- */

/* The runtime's driver, created on first use (thread-safe).  NULL when out
 * of memory or when epoll/eventfd cannot be created. */
struct at__io_driver *at__io_driver_get(at_runtime *rt);
/* One turn of the driver: wait for events until the monotonic `deadline`
 * (0 = do not wait, UINT64_MAX = no timeout), wake the tasks whose fds
 * became ready, free deregistered sources.  One thread turns a driver at a
 * time: it holds the driver's token (at__io_acquire returns 1 when it got
 * it).  at__io_turn takes and releases the token itself and returns -1 at
 * once when another thread holds it; otherwise both return the number of
 * events handled. */
int at__io_acquire(at_runtime *rt);
void at__io_release(at_runtime *rt);
int at__io_turn_locked(at_runtime *rt, uint64_t deadline);
int at__io_turn(at_runtime *rt, uint64_t deadline);
/* Make a turn in progress (or the next one) return at once: eventfd. */
void at__io_wake(at_runtime *rt);
/* Close the driver (runtime shutdown). */
void at__io_driver_free(at_runtime *rt);

/* ---- Blocking pool (blocking.c) ---- */

/* Wait for running jobs, drop queued ones, join every pool thread. */
void at__blocking_free(at_runtime *rt);

#endif
