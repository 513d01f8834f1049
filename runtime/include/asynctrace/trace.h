/* asynctrace/trace.h - live task dumps: every task of a runtime, where it is
 * suspended (its await tree) and the native backtrace of its leaves, taken
 * by re-polling each idle task once in "trace mode" (docs/live-dumps.md).
 *
 * In trace mode every leaf future's first call, at_trace_leaf, unwinds the
 * native stack from the leaf up to the task's at_root_poll, stores the
 * frames, and makes the leaf return Pending before it touches its resource:
 * a trace poll never makes progress.  Every traced task is woken afterwards
 * so it is polled normally again: no wake-up is lost.
 *
 * Three ways to ask for a dump:
 *  - from inside a task: await at_dump_tasks() (the caller shows as running);
 *  - from another thread: at_dump_runtime_tasks() with a timeout;
 *  - on a signal: at_dump_signal_install() or the environment variables
 *    ASYNCTRACE_DUMP_SIGNAL / ASYNCTRACE_DUMP_FILE.
 * Requests are served at the runtime's next safe point (between two polls),
 * one after another; a runtime that does not get there within the timeout
 * yields a snapshot taken without polling that says so. */
#ifndef ASYNCTRACE_TRACE_H
#define ASYNCTRACE_TRACE_H

#include "asynctrace/dump.h"
#include "asynctrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many dump requests wait for one runtime; more are refused
 * with AT_EBUSY. */
#define AT_DUMP_MAX_PENDING 64

/* A dump request, queued on its runtime until the next safe point. */
typedef struct at_dump_request at_dump_request;
struct at_dump_request {
    /* private */
    at_dump_request *next;  /* the runtime's queue (under the dump lock) */
    at_runtime *runtime;
    uint64_t runtime_id;
    at_task *requester;     /* the task that awaits it, NULL from a thread */
    at_waker waker;         /* wakes the requester when done */
    at_dump *result;
    int status;
    int state;              /* queued, taken, done */
    int abandoned;          /* the requester gave up: the dumper frees it */
    int pad;
};

/* ---- From inside a task -------------------------------------------------- */

/* Leaf; resource AT_RES_DUMP.  Completes with a live dump of the calling
 * task's runtime, taken at its next safe point.  The calling task appears in
 * it as running (with its await chain, which ends in this leaf).
 * After Ready: status is 0 and result the dump (the caller owns it: free it
 * with at_dump_free), or status is AT_EBUSY (too many dumps pending),
 * AT_ESHUTDOWN (the runtime is shutting down) or AT_EINVAL (not polled
 * inside a task) and result is NULL. */
typedef struct at_dump_fut {
    at_leaf leaf;
    at_dump *result;
    int status;
    int phase;              /* private: 0 new, 1 queued, 2 finished */
    at_dump_request req;    /* private */
} at_dump_fut;

at_frame *at_dump_tasks(at_dump_fut *f);

/* ---- From another thread ------------------------------------------------- */

/* Ask rt for a live dump and wait up to timeout_ns for it.  Returns 0 with
 * the dump in *out; or AT_ETIMEDOUT when the runtime did not reach a safe
 * point in time, with a snapshot taken without polling in *out (NULL only
 * when out of memory) whose notes say so; or AT_EBUSY (too many dumps
 * pending), AT_EINVAL (bad argument, or called from a task of rt, which
 * would wait for itself: use at_dump_tasks there), AT_ESHUTDOWN (rt is
 * being freed, or was freed while the request waited), AT_ENOMEM.  Free the
 * dump with at_dump_free. */
int at_dump_runtime_tasks(at_runtime *rt, uint64_t timeout_ns, at_dump **out);

/* ---- On a signal ---------------------------------------------------------- */

/* Dump every runtime of the process to `path` when signal `signo` arrives
 * (JSON in the trace format; text if path ends in ".txt").  The handler
 * only writes a byte to a pipe; a watcher thread asks each runtime for a
 * live dump at its next safe point and, for a runtime that does not reach one
 * within the timeout (default 1 s, see below), writes its tasks from a
 * snapshot taken without polling, with a note saying so.  The file is
 * written to a new temporary file next to it (path.tmp.<pid>.<n>, created
 * with O_EXCL|O_NOFOLLOW and mode 0600, never following a symlink or
 * reusing a file) and renamed to path, so a reader never sees half a dump;
 * path itself ends up mode 0600.  A dump that cannot be written is reported
 * on stderr.
 * Installing again replaces the signal and path.  Returns 0, AT_EINVAL
 * (also for a crash or uncatchable signal: SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT, SIGTRAP, SIGSYS, SIGKILL, SIGSTOP, and when sigaction fails), or
 * AT_ENOMEM.
 *
 * The environment does the same without code: ASYNCTRACE_DUMP_SIGNAL
 * (a name such as SIGUSR1 or USR1, or a number), ASYNCTRACE_DUMP_FILE (the
 * path; default asynctrace-dump-<pid>.json) and optionally
 * ASYNCTRACE_DUMP_TIMEOUT_MS, read when the first runtime is created. */
int at_dump_signal_install(int signo, const char *path);
/* How long the watcher waits for a safe point (0 restores the default). */
void at_dump_signal_set_timeout(uint64_t timeout_ns);
/* Restore the signal's previous disposition and stop the watcher. */
void at_dump_signal_remove(void);
/* Number of dump files written since install (for tests and tools). */
uint64_t at_dump_signal_count(void);

#ifdef __cplusplus
}
#endif
#endif /* ASYNCTRACE_TRACE_H */
