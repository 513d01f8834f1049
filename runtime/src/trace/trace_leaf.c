/* trace_leaf.c - at_trace_leaf, the first call of every leaf future.
 *
 * With no collector installed on the polling thread it is a load and a
 * branch.  With one, and the task marked AT_TF_TRACING (a live dump is
 * polling it), it captures the native backtrace into the collector and
 * tells the leaf to return Pending at once, before it touches its resource.
 * The task needs no waker: the dump wakes every task it traced. */
#include "trace/trace_internal.h"

AT_NOINLINE int at_trace_leaf(at_context *cx)
{
    at_trace_context *t = cx->thread;
    if (__builtin_expect(!t, 0))
        return 0;
    if (__builtin_expect(!t->collector, 1))
        return 0;
    if (!cx->task || !(atomic_load_explicit(&cx->task->flags, memory_order_relaxed) &
                       AT_TF_TRACING))
        return 0;
    /* Not a tail call: this frame must be on the stack during the capture,
     * since the kept frames start right above it. */
    at__trace_capture(cx);
    return 1;
}
