/* trace_leaf.c - at_trace_leaf, the first call of every leaf future.
 *
 * With no live dump tracing anywhere in the process it is one load of a
 * global counter and one branch, taken the same way every time
 * (at__trace_active, raised by a dump around its trace polls).  While a
 * dump traces, each call looks further: a collector installed on the
 * polling thread and the task marked AT_TF_TRACING (the dump is polling
 * it) make it capture the native backtrace into the collector and tell the
 * leaf to return Pending at once, before it touches its resource.  The
 * task needs no waker: the dump wakes every task it traced. */
#include "trace/trace_internal.h"

int at__trace_active;

/* Out of line and cold, so the fast path of at_trace_leaf stays a load, a
 * branch and a return. */
static AT_NOINLINE __attribute__((cold)) int at__trace_wanted(at_context *cx)
{
    at_trace_context *t = cx->thread;
    return t && t->collector && cx->task &&
           (atomic_load_explicit(&cx->task->flags, memory_order_relaxed) & AT_TF_TRACING);
}

/* Kept in one piece: GCC would move the unlikely part into a separate
 * at_trace_leaf.cold, and the capture recognises this frame by the start
 * of the procedure its return address lies in. */
AT_NOINLINE __attribute__((optimize("no-reorder-blocks-and-partition")))
int at_trace_leaf(at_context *cx)
{
    if (__builtin_expect(!__atomic_load_n(&at__trace_active, __ATOMIC_RELAXED), 1))
        return 0;
    if (!at__trace_wanted(cx))
        return 0;
    /* Not a tail call: this frame must be on the stack during the capture,
     * since the kept frames start right above it. */
    at__trace_capture(cx);
    return 1;
}
