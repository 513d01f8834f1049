/* asynctrace/combinators.h - join-all and select over N futures.  Their
 * frames have several children (linked through at_frame.sibling), so a
 * task's await structure is a tree. */
#ifndef ASYNCTRACE_COMBINATORS_H
#define ASYNCTRACE_COMBINATORS_H

#include "asynctrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

/* Completes when every child has completed.  `children` (n frames) must stay
 * valid until then; each child is polled only until it is Ready. */
typedef struct at_join_all_fut {
    at_frame frame;
    at_frame **children;
    size_t n;
    size_t remaining;
} at_join_all_fut;
at_frame *at_join_all(at_join_all_fut *f, at_frame **children, size_t n);

/* Completes when the first child completes (lowest index wins a tie);
 * `index` tells which, and every other child is dropped. */
typedef struct at_select_fut {
    at_frame frame;
    at_frame **children;
    size_t n;
    size_t index;
} at_select_fut;
at_frame *at_select(at_select_fut *f, at_frame **children, size_t n);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
