/* asynctrace/dump.h - the in-memory task dump shared by every producer (the
 * in-process snapshot walker, the live trace dump) and its writers (JSON in
 * the trace format of docs/trace-format.md, and a text tree).
 *
 * A dump owns all its memory (one arena); at_dump_free releases it. */
#ifndef ASYNCTRACE_DUMP_H
#define ASYNCTRACE_DUMP_H

#include <stdio.h>

#include "asynctrace/abi.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

#define AT_TRACE_FORMAT_VERSION 1

/* A row of a resource's holder table: a task and how many permits (or
 * sender handles) it holds. */
typedef struct at_dump_holder {
    uint64_t task_id;     /* 0: outside any task */
    uint64_t count;
} at_dump_holder;

/* What a leaf waits for, with the resource record read at dump time. */
typedef struct at_dump_resource {
    uint32_t kind;        /* at_resource_kind */
    uint32_t flags;       /* at_wait.flags */
    uint64_t object;      /* address of the resource record */
    uint64_t since_ns;    /* when the wait began */
    uint64_t detail[3];   /* at_wait.detail[0], then 0, 0 */
    /* From the resource record (valid per kind; 0 otherwise): */
    uint64_t owner_id;    /* mutex holder; joined task id for joins */
    uint64_t capacity;    /* channel */
    uint64_t len;         /* channel */
    uint64_t senders;     /* channel */
    uint64_t rx_task_id;  /* channel / oneshot receiver task */
    uint64_t permits;     /* semaphore */
    uint32_t waiters;     /* mutex/semaphore/notify/channel queue length */
    uint32_t closed;      /* channel/oneshot: closed or peer gone */
    /* ABI 2 (docs/trace-format.md): */
    const char *lock_function; /* mutex: where the holder took it, or NULL */
    const char *lock_file;
    uint32_t lock_line;   /* 0 if unknown */
    uint32_t holders_truncated; /* some holders are not listed */
    at_dump_holder *holders; /* semaphore: permits by task; channel: sender
                            * handles by task; sorted by task id */
    size_t nholders;
    uint64_t sem_capacity;   /* semaphore: permits it was created with */
    uint64_t last_notifier;  /* notify: task id of the last notify, 0 none */
    uint64_t notified;       /* notify: notify calls so far */
    uint64_t tx_task_id;     /* oneshot: task holding the sender (creator) */
    uint32_t sender_dropped; /* oneshot: sender sent or dropped */
    int32_t thread;          /* blocking: LWP running the job, 0 if none */
    const char *error;    /* "corrupt: ..." when the record is unreadable */
} at_dump_resource;

/* One await frame: a node of the task's await tree. */
typedef struct at_dump_frame at_dump_frame;
struct at_dump_frame {
    const char *function;
    const char *file;
    uint32_t line;        /* resume line if suspended in an await, else the
                           * site's line */
    uint32_t kind;        /* at_frame_kind */
    uint64_t address;     /* the frame's address */
    uint64_t poll;        /* the poll function's address */
    at_dump_resource *resource; /* leaves: what it waits for; NULL otherwise */
    at_dump_frame *children;  /* array of nchildren */
    size_t nchildren;
    const char *error;    /* "corrupt: ..." when the walk stopped here */
};

/* One native frame of a live backtrace. */
typedef struct at_dump_native {
    uint64_t return_address; /* as unwound (0 for the innermost) */
    uint64_t call_site;      /* address of the call instruction, 0 if none */
    uint64_t call_target;    /* direct call's target, 0 if indirect/unknown */
    uint64_t proc_start;     /* start of the function containing it */
    const char *symbol;      /* function name, NULL if unknown */
    uint64_t offset;         /* call_site (or pc) - proc_start */
    const char *file;        /* from DWARF line info, NULL if unknown */
    uint32_t line;
    int verified;            /* a call instruction ends at return_address */
} at_dump_native;

typedef struct at_dump_backtrace {
    at_dump_native *frames;  /* innermost first (the leaf's poll first) */
    size_t nframes;
} at_dump_backtrace;

typedef struct at_dump_task {
    uint64_t address;
    uint64_t id;
    uint64_t parent_id;
    char name[AT_TASK_NAME_MAX];
    uint32_t state;          /* at_task_state */
    uint32_t flags;          /* at_task.flags */
    const char *spawn_function;
    const char *spawn_file;
    uint32_t spawn_line;
    uint32_t spawn_kind;     /* AT_KIND_SPAWN or AT_KIND_BLOCK_ON */
    uint64_t polls;
    uint64_t created_ns, state_ns, poll_start_ns, poll_end_ns;
    int32_t worker;          /* -1 if none */
    int32_t thread;          /* LWP polling it now, 0 if none */
    at_dump_frame *await;    /* the top future's frame (NULL if none) */
    int traced;              /* live dumps: a trace poll was made */
    const char *trace_note;  /* live dumps: why there is no trace */
    at_dump_backtrace *backtraces;
    size_t nbacktraces;
    const char *error;       /* "corrupt: ..." / "in-flux: ..." */
} at_dump_task;

typedef struct at_dump_root {
    uint64_t task_id;        /* task polled under this root frame */
    uint64_t address;
} at_dump_root;

typedef struct at_dump_thread {
    int32_t tid;
    uint32_t role;           /* at_thread_role */
    int32_t worker;
    uint64_t runtime_id;
    uint64_t current_task_id;/* 0 if idle */
    uint64_t poll_start_ns;
    at_dump_root *roots;     /* innermost first */
    size_t nroots;
} at_dump_thread;

typedef struct at_dump_runtime {
    uint64_t address;
    uint64_t id;
    uint32_t flavor;
    uint32_t workers;
    uint64_t now_ns;
    uint64_t spawned_total;
    at_dump_task *tasks;     /* sorted by id */
    size_t ntasks;
    const char *error;
} at_dump_runtime;

typedef struct at_dump {
    int version;             /* AT_TRACE_FORMAT_VERSION */
    const char *source;      /* "live", "snapshot", "gdb-live", "gdb-core" */
    uint64_t now_ns;         /* the clock the durations are relative to */
    const char *clock;       /* "live" or "recorded" */
    const char *now_source;  /* "live", "stopped", "core",
                              * "runtime-clock", "gdb-start", "document" */
    int now_exact;           /* 0: durations are lower bounds */
    uint64_t clock_mono_ns;  /* the runtime's clock pair (0 if none) */
    uint64_t clock_real_ns;
    uint64_t generation;
    at_dump_runtime *runtimes;
    size_t nruntimes;
    at_dump_thread *threads;
    size_t nthreads;
    const char **errors;     /* dump-level notes */
    size_t nerrors;
    void *arena;             /* private */
} at_dump;

/* Arena allocation inside a dump (zeroed); strings are copied. */
void *at_dump_alloc(at_dump *d, size_t size);
const char *at_dump_strdup(at_dump *d, const char *s);
const char *at_dump_printf(at_dump *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void at_dump_note(at_dump *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void at_dump_free(at_dump *d);

/* Find a task by id across runtimes, NULL if absent. */
const at_dump_task *at_dump_find_task(const at_dump *d, uint64_t id);

/* Writers.  Return 0, or -1 with errno on an I/O error. */
int at_dump_write_json(const at_dump *d, FILE *out);
int at_dump_write_text(const at_dump *d, FILE *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
