/* asynctrace/scenario.h - scenario programs for asynctrace-harness: the
 * checkpoint protocol (libasynctrace-scenario; pkg-config
 * asynctrace-scenario; docs/harness.md, "Writing a scenario").
 *
 * A scenario program drives its tasks into a state worth checking (a
 * sequence of requests served, a deadlock formed, a worker blocked) and
 * reaches its checkpoint: it publishes the state and waits.  A checkpoint
 * thread, started by one of the at_scenario_checkpoint_* calls below,
 * decides when the state is reached, then:
 *
 *  - under the harness (ASYNCTRACE_HARNESS_FD and ASYNCTRACE_HARNESS_DUMP in
 *    the environment): writes the live dump of every watched runtime to the
 *    dump path (quiet checkpoints only), writes `ready live` or `ready
 *    offline` on the fd, and sleeps forever without touching any runtime,
 *    while the harness attaches GDB and takes a core;
 *  - run by hand: prints `ready <pid>` on a line of its own on stdout and
 *    sleeps forever, so GDB can be attached to the process.
 *
 * A scenario that cannot run here calls at_scenario_skip(); one that finds
 * itself broken calls at_scenario_fail().  Both tell the harness and exit.
 * A scenario that never reaches its checkpoint is timed out by the harness
 * and diagnosed from a core.
 *
 * Link: `pkg-config --cflags --libs asynctrace-scenario` (a static library
 * on top of libasynctrace). */
#ifndef ASYNCTRACE_SCENARIO_H
#define ASYNCTRACE_SCENARIO_H

#include <stdint.h>

#include "asynctrace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Create the scenario's runtime: current-thread, or multi-thread with
 * `workers` workers when mt is non-zero (skips the scenario when that
 * flavor is not available). */
at_runtime *at_scenario_runtime(int mt, unsigned workers);

/* Quiet checkpoint: when each runtime in rts[0..n) (n <= 8) owns exactly
 * ntasks[i] tasks, all idle, complete or cancelled, none waiting for a
 * timer due within a minute, and no thread polls any of them (twice in a
 * row, with no poll in between), take a live dump of each, wait for the
 * traced tasks to settle again, and signal `ready live`.  Gives up
 * (at_scenario_fail) when the runtimes do not settle within 15 s. */
void at_scenario_checkpoint_quiet(at_runtime *const *rts, const uint64_t *ntasks, int n);
/* The common case: one runtime. */
void at_scenario_checkpoint_quiet1(at_runtime *rt, uint64_t ntasks);

/* Quiet checkpoint after the scenario says it is done: a task calls
 * at_scenario_done() when its sequence (requests served, replies checked)
 * has run to the end, then waits (an hour's sleep, a notify nobody sends).
 * No time limit of its own: a scenario that hangs before at_scenario_done()
 * is timed out and diagnosed by the harness. */
void at_scenario_checkpoint_done(at_runtime *rt, uint64_t ntasks);
void at_scenario_done(void);

/* Quiet checkpoints of this process take no live dump and signal `ready
 * offline` (a stripped build: its native frames have no names). */
void at_scenario_offline_only(void);

/* Hung checkpoint: a task calls at_scenario_hang_mark() right before it
 * stalls its thread (a blocking call, a busy loop).  The checkpoint thread
 * waits for the mark, then (in_syscall) until that thread sleeps in a
 * system call or (otherwise) 20 ms more, and signals `ready offline`: no
 * live dump, the runtime cannot serve one. */
void at_scenario_checkpoint_hung(int in_syscall);
void at_scenario_hang_mark(void);
/* For a hung scene whose point is starvation: tasks left scheduled (never
 * polled: every thread is stuck) do not keep the scene from settling. */
void at_scenario_allow_scheduled(void);

/* Called on each live dump before it is written (the harness's own tests
 * use it to doctor a dump and prove the comparison notices). */
void at_scenario_set_live_hook(void (*hook)(at_dump *d));

void at_scenario_skip(const char *reason) __attribute__((noreturn));
void at_scenario_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Check a setup step; fails the scenario with the expression's text. */
#define AT_SCENARIO_CHECK(expr)                                                \
    do {                                                                       \
        if (!(expr))                                                           \
            at_scenario_fail("%s:%d: check failed: %s", __FILE__, __LINE__,    \
                             #expr);                                           \
    } while (0)

/* Sleep 1 ms at a time until pred(arg) is true: lets a main task wait for
 * the scene to form (a lock taken, a queue filled) whatever the flavor. */
typedef struct at_scenario_until_state {
    AT_FRAME;
    int (*pred)(void *);
    void *arg;
    at_sleep_fut nap;
} at_scenario_until_state;
at_frame *at_scenario_until(at_scenario_until_state *s, int (*pred)(void *), void *arg);

#ifdef __cplusplus
}
#endif

#endif
