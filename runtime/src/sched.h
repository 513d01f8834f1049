/* sched.h - private interface between tasks (task.c), timers (time.c) and
 * the scheduler (scheduler.c).  Not installed. */
#ifndef AT_SCHED_H
#define AT_SCHED_H

#include "internal.h"

/* Queue a task that just became SCHEDULED on its runtime. */
void at__sched_enqueue(at_runtime *rt, at_task *t);

/* Owned-list unlink; caller holds rt->lock. */
void at__owned_unlink_locked(at_runtime *rt, at_task *t);

/* Wake the joiner of a task whose state became final. */
void at__task_notify_joiner(at_task *t);

/* The root poll: pushes the root frame and polls the task's future. */
AT_NOINLINE at_poll_result at_root_poll(at_trace_context *tcx, at_task *t);

#endif
