/* asynctrace/runtime.h - runtimes, tasks, spawning, joining and aborting.
 *
 * A runtime owns tasks.  A task is one allocation holding its header
 * (at_task, see abi.h) and its top future's state.  The current-thread
 * flavor runs every task on the thread that calls at_block_on; the
 * multi-thread flavor runs them on worker threads (docs/runtime.md).
 */
#ifndef ASYNCTRACE_RUNTIME_H
#define ASYNCTRACE_RUNTIME_H

#include "asynctrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

typedef struct at_runtime_options {
    at_flavor flavor;  /* AT_FLAVOR_CURRENT_THREAD (default) or MULTI_THREAD */
    unsigned workers;  /* multi-thread: worker threads; 0 = number of CPUs */
    const char *name;  /* optional, for thread names */
} at_runtime_options;

/* Create a runtime; NULL options mean a current-thread runtime.
 * Returns NULL on allocation failure. */
at_runtime *at_runtime_new(const at_runtime_options *opts);

/* Shut down without freeing: every task still owned is cancelled (its
 * future's drop hooks run; joiners see AT_ECANCELED), worker threads stop,
 * and from then on spawning fails (empty handle) and at_block_on returns
 * AT_ESHUTDOWN.  The runtime stays listed for debuggers until freed.
 * Returns 0 (also when already shut down), or AT_EINVAL for NULL or when
 * called from a task of rt.  Not to be called while another thread is
 * inside at_block_on(rt). */
int at_runtime_shutdown(at_runtime *rt);

/* Shut down (as above) and free: the memory of each task is freed once its
 * join handle is released too; handles may outlive the runtime. */
void at_runtime_free(at_runtime *rt);

/* The runtime whose task this thread is polling, or NULL. */
at_runtime *at_runtime_current(void);

/* A join handle: a counted reference to a task.  Zero-initialised means
 * empty.  Release it (at_join_handle_release) or detach it when done. */
typedef struct at_join_handle {
    at_task *task;
} at_join_handle;

/* Run `future` as a task named `name` on `rt` and drive the runtime on the
 * calling thread until that task completes.  Returns 0, AT_ESHUTDOWN, or
 * AT_EINVAL when called re-entrantly on the same runtime.  Use AT_BLOCK_ON
 * to record the call site. */
int at__block_on(at_runtime *rt, at_frame *future, const char *name,
                 const at_site *site);
#define at_block_on(rt, future, name)                                         \
    at__block_on((rt), (future), (name), AT__CALL_SITE(AT_KIND_BLOCK_ON))

/* Spawning.  AT_SPAWN(rt, name, type, ctor, args...) allocates a task with
 * room for a `type` state, calls ctor(state, args...) (which returns the
 * state's frame), and schedules it.  `rt` may be NULL inside a task (the
 * current runtime).  The result is a join handle whose .task is NULL on
 * failure (out of memory, or the runtime is shut down).  The spawn site
 * (file, line, function) and the spawning task's id are recorded. */
#define AT_SPAWN(rt, name, type, ctor, ...)                                    \
    ({                                                                         \
        at_task *at__t = at__task_alloc((rt), sizeof(type));                   \
        at_join_handle at__h = {0};                                            \
        if (at__t) {                                                           \
            type *at__s = (type *)(void *)at__t->state_storage;                            \
            at__h = at__task_spawn(at__t, ctor(at__s, ##__VA_ARGS__), (name),  \
                                   AT__CALL_SITE(AT_KIND_SPAWN));              \
        }                                                                      \
        at__h;                                                                 \
    })

/* Spawn a future whose state lives elsewhere (the caller keeps it alive
 * until the task completes or is cancelled). */
#define at_spawn_frame(rt, frame, name)                                        \
    at__spawn_frame((rt), (frame), (name), AT__CALL_SITE(AT_KIND_SPAWN))

/* A static site record for the enclosing call (statement expression). */
#define AT__CALL_SITE(kind)                                                    \
    ({                                                                         \
        static const at_site at__call_site = {AT_SITE_MAGIC, (kind), __func__, \
                                              __FILE__, __LINE__, 0, 0, 0};    \
        &at__call_site;                                                        \
    })

at_task *at__task_alloc(at_runtime *rt, size_t state_size);
at_join_handle at__task_spawn(at_task *t, at_frame *root, const char *name,
                              const at_site *site);
at_join_handle at__spawn_frame(at_runtime *rt, at_frame *root, const char *name,
                               const at_site *site);

/* The state of a spawned task's top future (valid while the handle is
 * held): read the result from it after a successful join. */
static inline void *at_join_handle_state(at_join_handle h)
{
    /* A spawned state sits right after the task record and starts with
     * the root frame; at_spawn_frame's state lives elsewhere (NULL). */
    if (!h.task || h.task->root != (at_frame *)(void *)h.task->state_storage)
        return (void *)0;
    return h.task->state_storage;
}
uint64_t at_join_handle_id(at_join_handle h);

/* Request cancellation: the task is not polled again; at its next
 * suspension (now, if it is idle) its future is dropped, its state becomes
 * cancelled and its joiner sees AT_ECANCELED.  No effect on a finished task. */
void at_task_abort(at_join_handle h);

/* Drop the handle: the task runs on (detached) and is freed when done. */
void at_join_handle_release(at_join_handle *h);
#define at_task_detach at_join_handle_release

/* Rename the current task (bounded copy). */
void at_task_set_name(at_task *t, const char *name);
/* The task this thread is polling, or NULL. */
at_task *at_task_current(void);

/* ---- Join: a leaf future that waits for a task -------------------------- */
typedef struct at_join_fut {
    at_leaf leaf;
    at_join_handle handle;
    int status;   /* after Ready: 0, AT_ECANCELED, or AT_EINVAL */
    int queued;
} at_join_fut;

/* Wait for the task of `h` to finish.  The handle stays held by the caller.
 * A second join of the same task, or a join of an empty handle, completes at
 * once with status AT_EINVAL. */
at_frame *at_join(at_join_fut *f, at_join_handle h);

/* ---- Yield: gives other tasks a turn ------------------------------------- */
typedef struct at_yield_fut {
    at_leaf leaf;
    int yielded;
} at_yield_fut;
at_frame *at_yield(at_yield_fut *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* ASYNCTRACE_RUNTIME_H */
