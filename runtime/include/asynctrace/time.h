/* asynctrace/time.h - timers: sleep, sleep-until, and a timeout around any
 * future.  Deadlines are on the monotonic clock (at_now_ns), in ns.  Timers
 * live in a binary heap per runtime: O(log n) insert and cancel. */
#ifndef ASYNCTRACE_TIME_H
#define ASYNCTRACE_TIME_H

#include "asynctrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

/* Leaf; resource AT_RES_SLEEP, detail[0] = deadline. */
typedef struct at_sleep_fut {
    at_leaf leaf;
    uint64_t deadline;
    size_t heap_index;    /* position in the runtime's heap, SIZE_MAX if none */
    at_runtime *runtime;  /* the heap it is in */
    at_waker waker;
} at_sleep_fut;

at_frame *at_sleep(at_sleep_fut *f, uint64_t duration_ns);
at_frame *at_sleep_until(at_sleep_fut *f, uint64_t deadline_ns);

/* Combinator (kind "timeout", children: the inner future, then the timer).
 * After Ready, status is 0 when the inner future finished, AT_ETIMEDOUT when
 * the timer fired first (the inner future has then been dropped). */
typedef struct at_timeout_fut {
    at_frame frame;
    at_frame *inner;
    at_sleep_fut sleep;
    int status;
    int pad;
} at_timeout_fut;

at_frame *at_timeout(at_timeout_fut *f, at_frame *inner, uint64_t duration_ns);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
