/* asynctrace/sync.h - async mutex (FIFO fair, records its owner task),
 * counting semaphore (FIFO), and notify.
 *
 * Objects are initialised in place (no allocation) and must outlive every
 * future waiting on them.  Ownership of a mutex is handed directly to the
 * first waiter on unlock, so a waiter is never overtaken. */
#ifndef ASYNCTRACE_SYNC_H
#define ASYNCTRACE_SYNC_H

#include "asynctrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

/* ---- Mutex ---- */
void at_mutex_init(at_mutex *m);
/* Returns AT_EBUSY (and leaves it intact) if locked or waited on. */
int at_mutex_destroy(at_mutex *m);

/* Leaf; resource AT_RES_MUTEX, object = the mutex.  After Ready the current
 * task holds the mutex; release with at_mutex_unlock. */
/* The mutex is the leaf's wait.object. */
typedef struct at_mutex_lock_fut {
    at_leaf leaf;
    at_waiter waiter;
} at_mutex_lock_fut;
at_frame *at_mutex_lock(at_mutex_lock_fut *f, at_mutex *m);
/* 0 when acquired, AT_EBUSY when held. */
int at_mutex_try_lock(at_mutex *m);
/* Release; hands the lock to the first waiter, if any.  AT_EINVAL if not
 * locked. */
int at_mutex_unlock(at_mutex *m);

/* ---- Semaphore ---- */
void at_semaphore_init(at_semaphore *s, uint64_t permits);
/* The semaphore is the leaf's wait.object, the permits wanted its
 * detail[0]; holder_id is the task charged with permits granted while
 * queued (given back if the future is dropped before it sees them). */
typedef struct at_semaphore_acquire_fut {
    at_leaf leaf;
    at_waiter waiter;
    uint64_t holder_id;
} at_semaphore_acquire_fut;
/* Leaf; resource AT_RES_SEMAPHORE, detail[0] = n.  FIFO: a large request at
 * the head blocks smaller ones behind it. */
at_frame *at_semaphore_acquire(at_semaphore_acquire_fut *f, at_semaphore *s,
                               uint64_t n);
int at_semaphore_try_acquire(at_semaphore *s, uint64_t n);
void at_semaphore_release(at_semaphore *s, uint64_t n);

/* ---- Notify ---- */
void at_notify_init(at_notify *n);
/* The notify is the leaf's wait.object. */
typedef struct at_notify_wait_fut {
    at_leaf leaf;
    at_waiter waiter;
} at_notify_wait_fut;
/* Leaf; resource AT_RES_NOTIFY.  Completes after a notify_one (one waiter,
 * or a stored permit if nobody waits) or a notify_all (every current
 * waiter; stores no permit). */
at_frame *at_notify_wait(at_notify_wait_fut *f, at_notify *n);
void at_notify_one(at_notify *n);
void at_notify_all(at_notify *n);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
