/* asynctrace/blocking.h - running blocking calls off the runtime's
 * threads: at_spawn_blocking hands a function to the runtime's pool of
 * blocking threads and returns a future that completes with its result
 * (docs/runtime.md, "Blocking work").
 *
 * The pool is created on first use: at most AT_BLOCKING_MAX_THREADS
 * threads, started on demand; one idle for AT_BLOCKING_KEEP_ALIVE_NS exits.
 * Its threads register as role "blocking" in the debugger descriptor. */
#ifndef ASYNCTRACE_BLOCKING_H
#define ASYNCTRACE_BLOCKING_H

#include "asynctrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

#define AT_BLOCKING_MAX_THREADS 64
#define AT_BLOCKING_KEEP_ALIVE_NS (10 * AT_SEC)

typedef void *(*at_blocking_fn)(void *arg);

/* Leaf; resource AT_RES_BLOCKING, detail[0] = the job's id (1, 2, ... per
 * runtime), object = the job.  After Ready: status 0 and result = fn(arg),
 * or status AT_ENOMEM / AT_ESHUTDOWN (fn did not run).  Dropping the future
 * while fn runs does not stop fn (a thread cannot be interrupted); its
 * result is then discarded. */
typedef struct at_blocking_fut {
    at_leaf leaf;
    at_blocking_fn fn;
    void *arg;
    void *result;
    int status;
    int pad;
    struct at__blocking_job *job; /* private */
} at_blocking_fut;

at_frame *at_spawn_blocking(at_blocking_fut *f, at_blocking_fn fn, void *arg);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
