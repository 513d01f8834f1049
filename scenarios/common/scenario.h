/* scenario.h - support for scenario programs: the checkpoint protocol
 * shared with build/asynctrace-harness (docs/harness.md).
 *
 * A scenario brings its tasks into an intended state and then reaches its
 * checkpoint.  A checkpoint thread, started by one of the scn_checkpoint_*
 * calls below, decides when the state is reached, then:
 *
 *  - under the harness (ASYNCTRACE_HARNESS_FD and ASYNCTRACE_HARNESS_DUMP in
 *    the environment): writes the live dump of every watched runtime to the
 *    dump path (quiet scenarios only), writes `ready live` or `ready offline`
 *    on the fd, and sleeps forever without touching any runtime;
 *  - by hand: prints `ready <pid>` on a line of its own on stdout and sleeps
 *    forever, so GDB can be attached to the process.
 *
 * A scenario that cannot run here (the multi-thread flavor is missing)
 * calls scn_skip(); one that finds itself broken calls scn_fail().  Both
 * tell the harness and exit. */
#ifndef SCN_SCENARIO_H
#define SCN_SCENARIO_H

#include <stdint.h>

#include "asynctrace.h"

/* Create the scenario's runtime: current-thread, or multi-thread with
 * `workers` workers when mt is non-zero (skips the scenario when that
 * flavor is not available yet). */
at_runtime *scn_runtime(int mt, unsigned workers);

/* Quiet checkpoint: when each runtime in rts[0..n) owns exactly ntasks[i]
 * tasks, all idle, complete or cancelled, and no thread polls any of them
 * (twice in a row, with no poll in between), take a live dump of each, wait
 * for the traced tasks to settle again, and signal `ready live`. */
void scn_checkpoint_quiet(at_runtime *const *rts, const uint64_t *ntasks, int n);
/* The common case: one runtime. */
void scn_checkpoint_quiet1(at_runtime *rt, uint64_t ntasks);

/* Called on each live dump before it is written (the harness's own tests
 * use it to doctor a dump and prove the comparison notices). */
void scn_set_live_hook(void (*hook)(at_dump *d));

/* Quiet checkpoints of this process take no live dump and signal `ready
 * offline` (a stripped build: its native frames have no names). */
void scn_offline_only(void);

/* Hung checkpoint: a task calls scn_hang_mark() right before it stalls its
 * thread.  The checkpoint thread waits for the mark, then (in_syscall) until
 * that thread sleeps in a system call or (otherwise) 20 ms more, and signals
 * `ready offline`: no live dump, the runtime cannot serve one. */
void scn_checkpoint_hung(int in_syscall);
void scn_hang_mark(void);
/* For a hung scene whose point is starvation: tasks left scheduled (never
 * polled: every thread is stuck) do not keep the scene from settling. */
void scn_allow_scheduled(void);

void scn_skip(const char *reason) __attribute__((noreturn));
void scn_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Check a setup step; fails the scenario with the expression's text. */
#define SCN_CHECK(expr)                                                        \
    do {                                                                       \
        if (!(expr))                                                           \
            scn_fail("%s:%d: check failed: %s", __FILE__, __LINE__, #expr);    \
    } while (0)

/* Sleep 1 ms at a time until pred(arg) is true: lets a main task wait for
 * the scene to form (a lock taken, a queue filled) whatever the flavor. */
typedef struct scn_until_state {
    AT_FRAME;
    int (*pred)(void *);
    void *arg;
    at_sleep_fut nap;
} scn_until_state;
at_frame *scn_until(scn_until_state *s, int (*pred)(void *), void *arg);

#endif
