/* io.h - private to the runtime's implementation; never installed.
 *
 * The I/O driver (io.c: epoll readiness, eventfd wake-ups) and the
 * spawn_blocking pool (blocking.c) as the scheduler flavors see them.
 * Every function here is called with the runtime alive. */
#ifndef AT_SCHED_IO_H
#define AT_SCHED_IO_H

#include "core/internal.h"

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
