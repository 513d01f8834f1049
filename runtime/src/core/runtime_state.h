/* runtime_state.h - private to the runtime's implementation; never installed.
 *
 * A runtime's private state.  The public header (asynctrace/abi.h) holds
 * only the debugger-visible head of at_runtime, the part in the layout
 * table; a runtime is allocated as an at__runtime, whose first member is
 * that head, so an at_runtime pointer and its at__runtime are the same
 * address and at__rt() converts for free.  The fields are grouped by the
 * subsystem that owns them; nothing outside runtime/src sees them. */
#ifndef AT_CORE_RUNTIME_STATE_H
#define AT_CORE_RUNTIME_STATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "asynctrace/abi.h"

struct at_sleep_fut;
struct at__sched_ops;

/* The timer heap (sched/time.c): a binary min-heap on deadlines. */
struct at__timer_heap {
    struct at_sleep_fut **entries;
    size_t len, cap;
};

typedef struct at__runtime {
    at_runtime head;          /* debugger-visible; must stay first */
    /* trace/ + rt/: the descriptor's runtime list (head.next forward) */
    at_runtime *prev;
    /* core/: the owned list and task memory */
    _Atomic uint32_t owned_lock; /* spin lock: owned list, task_count */
    void *task_pool;          /* task memory (task_pool.c) */
    /* sched/: both flavors */
    pthread_mutex_t lock;     /* inject queue, wake requests, timers */
    pthread_cond_t park;
    at_task *run_head, *run_tail;       /* local run queue (owner thread) */
    at_task *inject_head, *inject_tail; /* wakes from other threads */
    int parked;
    int in_block_on;
    at_trace_context *owner;  /* thread driving a current-thread runtime */
    uint32_t polls_since_check;
    struct at__timer_heap timers;
    void *driver;             /* I/O driver (epoll), created on demand */
    void *sched;              /* multi-thread scheduler state */
    void *blocking;           /* spawn_blocking pool, created on demand */
    at_task *wake_head;       /* current-thread: wakes asked by other threads */
    const struct at__sched_ops *sched_ops; /* the flavor's operations */
    uint64_t sched_rng;       /* seeded schedules: generator state, 0 = none */
    /* dump/ */
    void *dump_state;         /* live-dump state */
    uint64_t dump_not_before; /* no dump served before this (dump_request.c) */
} at__runtime;

_Static_assert(offsetof(at__runtime, head) == 0,
               "the public head starts the runtime's allocation");

/* The private state of a runtime (the same address). */
static inline at__runtime *at__rt(const at_runtime *rt)
{
    return (at__runtime *)rt;
}

#endif
