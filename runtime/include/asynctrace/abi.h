/* asynctrace/abi.h - the records a debugger reads, and the table that
 * describes them.
 *
 * Everything in this file is part of the debugger ABI (docs/abi.md).  A tool
 * outside the process (the GDB extension, or anything else that can read
 * memory) finds the descriptor `asynctrace_debug`, checks its magic and
 * version, reads the layout table it points to, and from then on reads every
 * record below by the offsets in that table, never by DWARF.
 *
 * Rules:
 *  - Each record has exactly one definition here, one entry in the layout
 *    lists at the end of this file (offset and size pinned with
 *    _Static_assert in abi.c), and one ASCII diagram.  Changing any pinned
 *    field bumps AT_ABI_VERSION.
 *  - Fields below a "private" marker are the runtime's own and are not in the
 *    layout table; readers must not use them.
 *  - Users of the library read none of these fields directly; the public API
 *    in the other headers is the interface.  The records are public only so
 *    that async state structs can embed frames by value.
 */
#ifndef ASYNCTRACE_ABI_H
#define ASYNCTRACE_ABI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

#define AT_ABI_VERSION 3u /* 3: 40-byte frames (await records), one wait detail word */
#define AT_DEBUG_MAGIC "ATDEBUG" /* 7 chars + NUL = 8 bytes */
#define AT_DEBUG_SECTION ".asynctrace_debug" /* ELF section holding the descriptor */

/* Record magics: random-looking words so a reader can tell a live record from
 * garbage, and a freed record (magic poisoned) from a live one. */
#define AT_SITE_MAGIC    0x53a7e1f1u
#define AT_TASK_MAGIC    0x7a5c0de5u
#define AT_RUNTIME_MAGIC 0x2b7e1516u
#define AT_CONTEXT_MAGIC 0x6c0ffee1u
#define AT_MUTEX_MAGIC   0x4d757478u
#define AT_SEM_MAGIC     0x53656d61u
#define AT_NOTIFY_MAGIC  0x4e6f7466u
#define AT_CHAN_MAGIC    0x4368616eu
#define AT_ONESHOT_MAGIC 0x4f6e6553u
#define AT_JOB_MAGIC     0x4a6f6273u
#define AT_DEAD_MAGIC    0xdeadf4eeu /* written over a record's magic when freed */

/* ---- Enumerations, each with its name table (X-macro: value, name) ------ */

#define AT_TASK_STATES(X)                                                      \
    X(AT_TASK_IDLE, "idle")           /* suspended, waiting for a wake */      \
    X(AT_TASK_SCHEDULED, "scheduled") /* in a run queue */                     \
    X(AT_TASK_RUNNING, "running")     /* being polled by a thread */           \
    X(AT_TASK_COMPLETE, "complete")   /* future returned Ready */              \
    X(AT_TASK_CANCELLED, "cancelled") /* aborted; future dropped */

#define AT_FRAME_KINDS(X)                                                      \
    X(AT_KIND_ASYNC, "async")         /* an AT_ASYNC_FN state machine */       \
    X(AT_KIND_LEAF, "leaf")           /* a runtime primitive; has an at_wait */\
    X(AT_KIND_JOIN_ALL, "join-all")   /* combinator: all children */           \
    X(AT_KIND_SELECT, "select")       /* combinator: first child */            \
    X(AT_KIND_TIMEOUT, "timeout")     /* combinator: inner + timer */          \
    X(AT_KIND_SPAWN, "spawn")         /* a spawn call site (no frame) */       \
    X(AT_KIND_BLOCK_ON, "block-on")   /* a block_on call site (no frame) */

#define AT_RESOURCE_KINDS(X)                                                   \
    X(AT_RES_NONE, "none")                                                     \
    X(AT_RES_SLEEP, "sleep")          /* detail0 = deadline (ns, monotonic) */ \
    X(AT_RES_MUTEX, "mutex")          /* object = at_mutex */                  \
    X(AT_RES_SEMAPHORE, "semaphore")  /* object = at_semaphore, d0 = wanted */ \
    X(AT_RES_NOTIFY, "notify")        /* object = at_notify */                 \
    X(AT_RES_CHAN_SEND, "channel-send") /* object = at_chan */                 \
    X(AT_RES_CHAN_RECV, "channel-recv") /* object = at_chan */                 \
    X(AT_RES_ONESHOT, "oneshot")      /* object = at_oneshot */                \
    X(AT_RES_JOIN, "join")            /* object = at_task, d0 = its id */      \
    X(AT_RES_IO_READ, "read")         /* d0 = fd */                            \
    X(AT_RES_IO_WRITE, "write")       /* d0 = fd */                            \
    X(AT_RES_YIELD, "yield")                                                   \
    X(AT_RES_BLOCKING, "blocking")    /* spawn_blocking work, d0 = job id */   \
    X(AT_RES_DUMP, "dump")            /* waiting for a task dump */

#define AT_FLAVORS(X)                                                          \
    X(AT_FLAVOR_CURRENT_THREAD, "current-thread")                              \
    X(AT_FLAVOR_MULTI_THREAD, "multi-thread")

#define AT_THREAD_ROLES(X)                                                     \
    X(AT_ROLE_BLOCK_ON, "block-on")   /* a thread inside at_block_on */        \
    X(AT_ROLE_WORKER, "worker")       /* a multi-thread runtime worker */      \
    X(AT_ROLE_BLOCKING, "blocking")   /* a spawn_blocking pool thread */

#define AT__ENUM_VALUE(value, name) value,
typedef enum { AT_TASK_STATES(AT__ENUM_VALUE) AT_TASK_STATE_COUNT } at_task_state;
typedef enum { AT_FRAME_KINDS(AT__ENUM_VALUE) AT_FRAME_KIND_COUNT } at_frame_kind;
typedef enum { AT_RESOURCE_KINDS(AT__ENUM_VALUE) AT_RESOURCE_KIND_COUNT } at_resource_kind;
typedef enum { AT_FLAVORS(AT__ENUM_VALUE) AT_FLAVOR_COUNT } at_flavor;
typedef enum { AT_THREAD_ROLES(AT__ENUM_VALUE) AT_THREAD_ROLE_COUNT } at_thread_role;

/* Task flags (at_task.flags, atomic). */
#define AT_TF_IN_FLUX   0x01u /* being linked/unlinked: list pointers may be torn */
#define AT_TF_NOTIFIED  0x02u /* woken while running: poll again */
#define AT_TF_ABORT     0x04u /* abort requested */
#define AT_TF_DETACHED  0x08u /* no join handle any more */
#define AT_TF_JOINED    0x10u /* a join has observed the result */
#define AT_TF_TRACING   0x20u /* being polled for a live trace */
#define AT_TF_BLOCK_ON  0x40u /* the root task of an at_block_on call */
/* The trace format's name of each task flag, in bit order (bit i is entry
 * i): the C writers and the Python package's constants.py are checked
 * against this list (abi.c, tests/gdb/run.py). */
#define AT_TASK_FLAG_NAMES(X)                                                  \
    X(AT_TF_IN_FLUX, "in-flux")                                                \
    X(AT_TF_NOTIFIED, "notified")                                              \
    X(AT_TF_ABORT, "abort")                                                    \
    X(AT_TF_DETACHED, "detached")                                              \
    X(AT_TF_JOINED, "joined")                                                  \
    X(AT_TF_TRACING, "tracing")                                                \
    X(AT_TF_BLOCK_ON, "block-on")

/* at_frame.resume of a frame that returned Ready (an async function after
 * AT_END, a combinator's finished child); 0 is "not in an await". */
#define AT_RESUME_DONE  1u

/* ---- Records ------------------------------------------------------------ */

typedef struct at_site at_site;
typedef struct at_await at_await;
typedef struct at_frame at_frame;
typedef struct at_wait at_wait;
typedef struct at_leaf at_leaf;
typedef struct at_task at_task;
typedef struct at_runtime at_runtime;
typedef struct at_root_frame at_root_frame;
typedef struct at_trace_context at_trace_context;
typedef struct at_context at_context;

typedef enum { AT_PENDING = 0, AT_READY = 1 } at_poll_result;
typedef at_poll_result (*at_poll_fn)(at_frame *frame, at_context *cx);
typedef void (*at_drop_fn)(at_frame *frame);

/* at_site: a static, read-only record per async function, primitive, or
 * spawn/block_on call site.  Names and lines print from it without DWARF.
 *
 *   0        4        8                16               24       28       32               40               48
 *   +--------+--------+----------------+----------------+--------+--------+----------------+----------------+
 *   | magic  | kind   | function  *    | file      *    | line   | flags  | poll  (fn *)   | drop  (fn *)   |
 *   +--------+--------+----------------+----------------+--------+--------+----------------+----------------+
 */
struct at_site {
    uint32_t magic;       /* AT_SITE_MAGIC */
    uint32_t kind;        /* at_frame_kind */
    const char *function; /* NUL-terminated */
    const char *file;     /* NUL-terminated, as __FILE__ */
    uint32_t line;        /* line of the definition or call */
    uint32_t flags;
    at_poll_fn poll;      /* the native poll function (NULL for call sites) */
    at_drop_fn drop;      /* cleanup when cancelled, or NULL */
};

/* at_await: a static, read-only record per AT_AWAIT in the program: where
 * the poll resumes and the await's source line.  A suspended frame points
 * at the record of the await it is in, so the line costs a frame nothing.
 *
 *   0                8        12       16
 *   +----------------+--------+--------+
 *   | addr (code *)  | line   | pad    |
 *   +----------------+--------+--------+
 */
struct at_await {
    void *addr;           /* the resume label of the await */
    uint32_t line;        /* its source line */
    uint32_t pad;
};

/* at_frame: the persistent await frame that starts every future's state.
 * Links form the task's await tree: parent -> child (first awaited child)
 * -> sibling (next child of the same combinator).
 *
 *   0                8                16               24               32               40
 *   +----------------+----------------+----------------+----------------+----------------+
 *   | site *         | parent *       | child *        | sibling *      | resume *       |
 *   +----------------+----------------+----------------+----------------+----------------+
 *
 * resume: the at_await of the await the frame is suspended in; 0 when it is
 * in none (not started, or running between awaits), AT_RESUME_DONE once it
 * returned Ready.  (ABI 1 and 2 kept resume_addr, resume_line and flags in
 * the frame: 48 bytes.)
 */
struct at_frame {
    const at_site *site;
    at_frame *parent;
    at_frame *child;
    at_frame *sibling;
    const at_await *resume;
};

/* at_wait: what a leaf waits for.  Follows the frame in every leaf.
 * (ABI 1 and 2 had three detail words; no resource kind used the last two.)
 *
 *   0        4        8                16               24               32
 *   +--------+--------+----------------+----------------+----------------+
 *   | kind   | flags  | object *       | since_ns       | detail0        |
 *   +--------+--------+----------------+----------------+----------------+
 */
struct at_wait {
    uint32_t kind;      /* at_resource_kind */
    uint32_t flags;     /* kind-specific (I/O: 1 = read interest, 2 = write) */
    const void *object; /* the resource record, or NULL */
    uint64_t since_ns;  /* monotonic time the wait began, 0 if not waiting */
    uint64_t detail[1]; /* kind-specific, see AT_RESOURCE_KINDS */
};

/* at_leaf: frame + wait, the head of every leaf future's state. */
struct at_leaf {
    at_frame frame;
    at_wait wait;
};

/* at_waker: a reference to a task that can be woken.  Cloned wakers hold a
 * reference count on the task. */
typedef struct at_waker {
    at_task *task;
} at_waker;

/* at_waiter: an intrusive node a leaf puts on a primitive's wait queue.
 * Not read by debuggers (who waits is the leaf's wait record; the waiting
 * task is waker.task).  32 bytes: a waiting leaf pays no more. */
typedef struct at_waiter at_waiter;
struct at_waiter {
    at_waiter *next;
    at_waiter *prev;
    at_waker waker;   /* the waiting task, until granted */
    uint32_t state;   /* 0 queued, 1 granted, 2 closed/cancelled */
    uint16_t queued;  /* the owning future's: put on the queue, result not
                         seen yet (mutex, semaphore, notify futures) */
    uint16_t how;     /* notify: granted by notify_one (1) or notify_all (0) */
};

/* at_root_frame: pushed on the native stack by at_root_poll; the chain of
 * them is the thread's stack of tasks being polled (nested block_on).
 *
 *   0                8                16               24
 *   +----------------+----------------+----------------+
 *   | inner_addr     | parent *       | task *         |
 *   +----------------+----------------+----------------+
 */
struct at_root_frame {
    void *inner_addr; /* == (void *)at_root_poll */
    at_root_frame *parent;
    at_task *task;
};

/* at_task: one allocation per task: this header, then the future's state.
 *
 *   0        4        8                16               24               32
 *   +--------+--------+----------------+----------------+----------------+
 *   | magic  | state  | id             | parent_id      | spawn_site *   |
 *   +--------+--------+----------------+----------------+----------------+
 *   32               40               48               56               64
 *   | root *         | runtime *      | owned_next *   | owned_prev *   |
 *   +----------------+----------------+----------------+----------------+
 *   64               72               80               88               96
 *   | poll_count     | created_ns     | state_ns       | poll_start_ns  |
 *   +----------------+----------------+----------------+----------------+
 *   96               104      108      112                              144
 *   | poll_end_ns    | worker | flags  | name[32]                       |
 *   +----------------+--------+--------+--------------------------------+
 *   144 ... private (run queue link, join waiter, refcount, join lock,
 *   size class, result: 32 bytes), then the future's state at 176
 */
#define AT_TASK_NAME_MAX 32
struct at_task {
    uint32_t magic;
    _Atomic uint32_t state;   /* at_task_state */
    uint64_t id;              /* >= 1, never reused */
    uint64_t parent_id;       /* spawning task, 0 if spawned outside tasks */
    const at_site *spawn_site;
    at_frame *root;           /* the task's top future */
    at_runtime *runtime;
    at_task *owned_next;      /* runtime's owned list, NULL-terminated */
    at_task *owned_prev;
    uint64_t poll_count;
    uint64_t created_ns;
    uint64_t state_ns;        /* time of the last state change */
    uint64_t poll_start_ns;   /* start of the last poll, 0 if never */
    uint64_t poll_end_ns;     /* end of the last poll, 0 if never */
    _Atomic int32_t worker;   /* worker index of the last poll, -1 if none */
    _Atomic uint32_t flags;   /* AT_TF_* */
    char name[AT_TASK_NAME_MAX];
    /* private */
    at_task *run_next;        /* run queue link */
    at_waker join_waker;      /* the task joining this one, if any */
    void *sched_data;         /* scheduler-private (current-thread: wake_head link) */
    _Atomic uint32_t refcount;/* runtime's + handle's + cloned wakers */
    _Atomic uint8_t join_lock;/* byte spin lock guarding join_waker */
    uint8_t alloc_class;      /* task memory size class (task_pool.c) */
    int16_t result;           /* 0, or AT_ECANCELED after abort */
    _Alignas(16) unsigned char state_storage[]; /* the future's state */
};

/* at_runtime: one per runtime; this is its debugger-visible head, all of
 * it in the layout table.  The runtime's private state (locks, run queues,
 * timers, the scheduler's and the dump subsystem's state) follows the head
 * in the same allocation and is declared inside the library only
 * (runtime/src/core/runtime_state.h).
 *
 *   0        4        8                16               24               32
 *   +--------+--------+----------------+----------------+----------------+
 *   | magic  | flavor | id             | next *         | owned_head *   |
 *   +--------+--------+----------------+----------------+----------------+
 *   32               40       44       48               56               64
 *   | task_count     | workers| flags  | now_ns         | spawned_total  |
 *   +----------------+--------+--------+----------------+----------------+
 */
#define AT_RTF_SHUTDOWN 0x1u
struct at_runtime {
    uint32_t magic;
    uint32_t flavor;          /* at_flavor */
    uint64_t id;              /* >= 1, never reused */
    at_runtime *next;         /* descriptor's runtime list */
    at_task *owned_head;      /* every live task (not yet freed) */
    uint64_t task_count;      /* length of the owned list */
    uint32_t workers;         /* 1 for current-thread */
    uint32_t flags;           /* AT_RTF_* */
    uint64_t now_ns;          /* last monotonic clock reading */
    uint64_t spawned_total;
};

/* at_trace_context: one per thread that polls tasks, registered in the
 * descriptor's thread list, so a debugger needs no TLS lookup.
 *
 *   0        4        8        12       16               24               32
 *   +--------+--------+--------+--------+----------------+----------------+
 *   | magic  | role   | tid    | worker | active *       | current *      |
 *   +--------+--------+--------+--------+----------------+----------------+
 *   32               40               48               56               64
 *   | runtime *      | next *         | prev *         | collector *    |
 *   +----------------+----------------+----------------+----------------+
 *   64               72
 *   | poll_start_ns  |
 *   +----------------+
 */
struct at_trace_context {
    uint32_t magic;
    uint32_t role;            /* at_thread_role */
    int32_t tid;              /* kernel thread id (LWP) */
    int32_t worker;           /* worker index, -1 if none */
    at_root_frame *active;    /* innermost root frame, NULL when idle */
    at_task *current;         /* task being polled, NULL when idle */
    at_runtime *runtime;      /* runtime this thread is driving */
    at_trace_context *next;
    at_trace_context *prev;
    void *collector;          /* live-trace collector, NULL normally */
    uint64_t poll_start_ns;   /* when the current poll began */
    /* private */
    int registered;
    int pad;
};

/* Resource records (the debugger reads their heads to explain waits). */

/*   0        4        8                16               24       28       32
 *   +--------+--------+----------------+----------------+--------+--------+
 *   | magic  | locked | owner_id       | owner *        | waiters| pad    |
 *   +--------+--------+----------------+----------------+--------+--------+
 *   32               40       44       48
 *   | lock_site *    | l_line | pad2   |
 *   +----------------+--------+--------+
 *
 * lock_site / lock_line: where the holder took the lock: the site and
 * resume line of the innermost async frame that awaited at_mutex_lock (NULL
 * and 0 after at_mutex_try_lock, or when not locked).  owner_id stays set
 * after its task finished or was cancelled without unlocking: a reader
 * looks the id up among the live tasks to tell a finished holder from one
 * that no longer exists.
 */
typedef struct at_mutex {
    uint32_t magic;
    uint32_t locked;
    uint64_t owner_id;        /* task id of the holder, 0 if none */
    at_task *owner;           /* the holder, NULL if none or not a task */
    uint32_t waiters;         /* queued lock futures */
    uint32_t pad;
    const at_site *lock_site; /* site of the frame that took the lock */
    uint32_t lock_line;       /* its await line, 0 if unknown */
    uint32_t pad2;
    /* private */
    at_waiter *head, *tail;
    _Atomic uint32_t lock;    /* spin lock guarding the private part */
} at_mutex;

/* at_holder: one row of a holder table (semaphore permits, channel sender
 * handles).  A row with count 0 is free.  task_id 0 is "outside any task".
 *
 *   0                8                16
 *   +----------------+----------------+
 *   | task_id        | count          |
 *   +----------------+----------------+
 */
#define AT_HOLDERS_MAX 8
typedef struct at_holder {
    uint64_t task_id;
    uint64_t count;
} at_holder;

/* Holder tables are bookkeeping, not ownership (handles and permits are not
 * objects in C): an acquire or clone is charged to the task that makes it;
 * a release or drop is taken from that task's row, else from its parent
 * task's row (the usual hand-over: a task acquires or clones, then spawns
 * the task that uses it), else from `untracked`, else from the first rows.
 * Counts that find no free row go to `untracked`.  The rows plus untracked
 * always add up to the total (permits taken, sender handles).
 *
 *   0        4        8                16               24               32
 *   +--------+--------+----------------+----------------+----------------+
 *   | magic  | waiters| permits        | max_permits    | untracked      |
 *   +--------+--------+----------------+----------------+----------------+
 *   32                                                                   160
 *   | holders[AT_HOLDERS_MAX]: at_holder {task_id, permits}              |
 *   +--------------------------------------------------------------------+
 */
typedef struct at_semaphore {
    uint32_t magic;
    uint32_t waiters;
    uint64_t permits;         /* available now */
    uint64_t max_permits;     /* initial count: the capacity */
    uint64_t untracked;       /* permits taken by tasks not in holders[] */
    at_holder holders[AT_HOLDERS_MAX]; /* permits taken, by task */
    /* private */
    at_waiter *head, *tail;
    _Atomic uint32_t lock;
} at_semaphore;

/*   0        4        8        12       16               24               32
 *   +--------+--------+--------+--------+----------------+----------------+
 *   | magic  | waiters| permit | pad    | last_notifier  | notified       |
 *   +--------+--------+--------+--------+----------------+----------------+
 */
typedef struct at_notify {
    uint32_t magic;
    uint32_t waiters;
    uint32_t permit;          /* a stored notify_one with no waiter */
    uint32_t pad;
    uint64_t last_notifier;   /* task id of the last notify_one/all, 0 none */
    uint64_t notified;        /* notify_one + notify_all calls so far */
    /* private */
    at_waiter *head, *tail;
    _Atomic uint32_t lock;
} at_notify;

/* at_chan: bounded or unbounded multi-producer single-consumer channel.
 * rx_task_id is the task that created the channel (it holds the receiver
 * first), then the task that last polled a receive.  tx_holders: which
 * tasks hold sender handles (see at_holder for the rules; a task that
 * sends without a row is given one, taken as above).
 *
 *   0        4        8                16               24               32
 *   +--------+--------+----------------+----------------+----------------+
 *   | magic  | flags  | capacity       | len            | senders        |
 *   +--------+--------+----------------+----------------+----------------+
 *   32               40       44       48               56               184
 *   | rx_task_id     | send_w | recv_w | tx_untracked   | tx_holders[8]  |
 *   +----------------+--------+--------+----------------+----------------+
 */
#define AT_CHAN_CLOSED     0x1u /* closed by the receiver or at_chan_close */
#define AT_CHAN_UNBOUNDED  0x2u
#define AT_CHAN_RX_DROPPED 0x4u
/* The rule every reader applies (snapshot.c; the Python package's
 * constants.chan_is_closed, checked against this macro by the GDB tests):
 * a channel is closed for its senders when closed or when its receiver is
 * gone. */
#define AT_CHAN_CLOSED_MASK (AT_CHAN_CLOSED | AT_CHAN_RX_DROPPED)
#define AT_CHAN_IS_CLOSED(flags) (((flags) & AT_CHAN_CLOSED_MASK) != 0)
typedef struct at_chan {
    uint32_t magic;
    uint32_t flags;           /* AT_CHAN_* */
    uint64_t capacity;        /* 0 when unbounded */
    uint64_t len;             /* messages queued */
    uint64_t senders;         /* live sender references */
    uint64_t rx_task_id;      /* receiver's task: creator, then last receive */
    uint32_t send_waiters;
    uint32_t recv_waiters;
    uint64_t tx_untracked;    /* sender handles not in tx_holders[] */
    at_holder tx_holders[AT_HOLDERS_MAX]; /* sender handles, by task */
    /* private */
    uint64_t tx_last;         /* task id of the last send (has a row) */
    size_t elem_size;
    size_t head, cap_alloc;   /* ring buffer */
    unsigned char *buf;
    at_waiter *send_head, *send_tail;
    at_waiter *recv_head, *recv_tail;
    uint32_t refs;            /* senders + receiver, for freeing */
    _Atomic uint32_t lock;
} at_chan;

/* tx_task_id: the task that created the oneshot, which holds the sender
 * unless it handed it to another task (not tracked); 0 outside tasks.
 *
 *   0        4        8                16               24
 *   +--------+--------+----------------+----------------+
 *   | magic  | flags  | rx_task_id     | tx_task_id     |
 *   +--------+--------+----------------+----------------+
 */
#define AT_ONESHOT_SENT       0x1u
#define AT_ONESHOT_TX_DROPPED 0x2u
#define AT_ONESHOT_RX_DROPPED 0x4u
/* Readers' rules (snapshot.c; constants.py, checked against these by the
 * GDB tests): a oneshot is closed for its receiver when the sender is gone
 * unsent; its sender is gone once it sent or was dropped. */
#define AT_ONESHOT_IS_CLOSED(flags)                                            \
    (((flags) & AT_ONESHOT_TX_DROPPED) && !((flags) & AT_ONESHOT_SENT))
#define AT_ONESHOT_SENDER_GONE(flags)                                          \
    (((flags) & (AT_ONESHOT_TX_DROPPED | AT_ONESHOT_SENT)) != 0)
typedef struct at_oneshot {
    uint32_t magic;
    uint32_t flags;
    uint64_t rx_task_id;
    uint64_t tx_task_id;
    /* private */
    size_t elem_size;
    at_waiter *waiter;
    uint32_t refs;
    _Atomic uint32_t lock;
    _Alignas(16) unsigned char value[];
} at_oneshot;

/* at_blocking_job: the head of a spawn_blocking job (the object of an
 * AT_RES_BLOCKING wait).  tid is the LWP of the pool thread running it, 0
 * while queued and after it finished.
 *
 *   0        4        8                16       20       24
 *   +--------+--------+----------------+--------+--------+
 *   | magic  | state  | id             | tid    | pad    |
 *   +--------+--------+----------------+--------+--------+
 */
#define AT_JOB_QUEUED  0u
#define AT_JOB_RUNNING 1u
#define AT_JOB_DONE    2u
#define AT_JOB_DROPPED 3u
typedef struct at_blocking_job {
    uint32_t magic;           /* AT_JOB_MAGIC */
    uint32_t state;           /* AT_JOB_* */
    uint64_t id;              /* 1, 2, ... per runtime */
    _Atomic int32_t tid;      /* pool thread running it, 0 if none */
    uint32_t pad;
} at_blocking_job;

/* ---- The layout table ----------------------------------------------------- */

typedef struct at_layout_field {
    const char *name;
    uint32_t offset;
    uint32_t size;
} at_layout_field;

typedef struct at_layout_record {
    const char *name;
    uint32_t size;        /* sizeof the record (0 for variable-size heads) */
    uint32_t field_count;
    const at_layout_field *fields;
} at_layout_record;

typedef struct at_enum_table {
    const char *name;
    uint32_t count;
    uint32_t pad;
    const char *const *names;
} at_enum_table;

/* The descriptor.  Its own head (up to `layouts`) never moves, so a reader
 * can check magic and version before trusting anything else.
 *
 *   0                8        12       16       20       24               32
 *   +----------------+--------+--------+--------+--------+----------------+
 *   | magic[8]       | abi_ver| ptr_sz | desc_sz| nlayout| layouts *      |
 *   +----------------+--------+--------+--------+--------+----------------+
 *   32               40               48               56               64
 *   | runtimes *     | threads *      | generation     | enums *        |
 *   +----------------+----------------+----------------+----------------+
 *   64       68       72               80               88
 *   | nenums | flags  | clock_ns       | next_task_id   |
 *   +--------+--------+----------------+----------------+
 *   88               96               104
 *   | clock_mono_ns  | clock_real_ns  |
 *   +----------------+----------------+
 *
 * clock_mono_ns / clock_real_ns: CLOCK_MONOTONIC and CLOCK_REALTIME read
 * together (at runtime creation, then at most once a second from the
 * scheduler's clock readings), so an offline reader can turn monotonic
 * timestamps into wall time (a core file's write time into "now").
 * clock_mono_ns is 0 while the pair is being rewritten.
 */
typedef struct at_debug_descriptor {
    char magic[8];
    uint32_t abi_version;
    uint32_t pointer_size;
    uint32_t descriptor_size;
    uint32_t layout_count;
    const at_layout_record *layouts;
    at_runtime *runtimes;       /* published with release stores */
    at_trace_context *threads;
    uint64_t generation;        /* bumped on every structural change */
    const at_enum_table *enums;
    uint32_t enum_count;
    uint32_t flags;
    uint64_t clock_ns;          /* last monotonic clock reading (for cores) */
    uint64_t next_task_id;
    uint64_t clock_mono_ns;     /* the clock pair: monotonic ... */
    uint64_t clock_real_ns;     /* ... and wall time, read together */
} at_debug_descriptor;

extern at_debug_descriptor asynctrace_debug;

/* Layout lists: X(record, c_type, field, offset, size).  abi.c turns each
 * into a layout-table entry and a pair of _Static_asserts. */
#define AT_LAYOUT_DESCRIPTOR(X)                                                \
    X(descriptor, at_debug_descriptor, magic, 0, 8)                            \
    X(descriptor, at_debug_descriptor, abi_version, 8, 4)                      \
    X(descriptor, at_debug_descriptor, pointer_size, 12, 4)                    \
    X(descriptor, at_debug_descriptor, descriptor_size, 16, 4)                 \
    X(descriptor, at_debug_descriptor, layout_count, 20, 4)                    \
    X(descriptor, at_debug_descriptor, layouts, 24, 8)                         \
    X(descriptor, at_debug_descriptor, runtimes, 32, 8)                        \
    X(descriptor, at_debug_descriptor, threads, 40, 8)                         \
    X(descriptor, at_debug_descriptor, generation, 48, 8)                      \
    X(descriptor, at_debug_descriptor, enums, 56, 8)                           \
    X(descriptor, at_debug_descriptor, enum_count, 64, 4)                      \
    X(descriptor, at_debug_descriptor, flags, 68, 4)                           \
    X(descriptor, at_debug_descriptor, clock_ns, 72, 8)                        \
    X(descriptor, at_debug_descriptor, next_task_id, 80, 8)                    \
    X(descriptor, at_debug_descriptor, clock_mono_ns, 88, 8)                   \
    X(descriptor, at_debug_descriptor, clock_real_ns, 96, 8)

#define AT_LAYOUT_SITE(X)                                                      \
    X(site, at_site, magic, 0, 4)                                              \
    X(site, at_site, kind, 4, 4)                                               \
    X(site, at_site, function, 8, 8)                                           \
    X(site, at_site, file, 16, 8)                                              \
    X(site, at_site, line, 24, 4)                                              \
    X(site, at_site, flags, 28, 4)                                             \
    X(site, at_site, poll, 32, 8)                                              \
    X(site, at_site, drop, 40, 8)

#define AT_LAYOUT_FRAME(X)                                                     \
    X(frame, at_frame, site, 0, 8)                                             \
    X(frame, at_frame, parent, 8, 8)                                           \
    X(frame, at_frame, child, 16, 8)                                           \
    X(frame, at_frame, sibling, 24, 8)                                         \
    X(frame, at_frame, resume, 32, 8)

#define AT_LAYOUT_AWAIT(X)                                                     \
    X(await, at_await, addr, 0, 8)                                             \
    X(await, at_await, line, 8, 4)

/* The wait record of a leaf; offsets are from the start of the leaf. */
#define AT_LAYOUT_LEAF(X)                                                      \
    X(leaf, at_leaf, wait.kind, 40, 4)                                         \
    X(leaf, at_leaf, wait.flags, 44, 4)                                        \
    X(leaf, at_leaf, wait.object, 48, 8)                                       \
    X(leaf, at_leaf, wait.since_ns, 56, 8)                                     \
    X(leaf, at_leaf, wait.detail[0], 64, 8)

#define AT_LAYOUT_ROOT_FRAME(X)                                                \
    X(root_frame, at_root_frame, inner_addr, 0, 8)                             \
    X(root_frame, at_root_frame, parent, 8, 8)                                 \
    X(root_frame, at_root_frame, task, 16, 8)

#define AT_LAYOUT_TASK(X)                                                      \
    X(task, at_task, magic, 0, 4)                                              \
    X(task, at_task, state, 4, 4)                                              \
    X(task, at_task, id, 8, 8)                                                 \
    X(task, at_task, parent_id, 16, 8)                                         \
    X(task, at_task, spawn_site, 24, 8)                                        \
    X(task, at_task, root, 32, 8)                                              \
    X(task, at_task, runtime, 40, 8)                                           \
    X(task, at_task, owned_next, 48, 8)                                        \
    X(task, at_task, owned_prev, 56, 8)                                        \
    X(task, at_task, poll_count, 64, 8)                                        \
    X(task, at_task, created_ns, 72, 8)                                        \
    X(task, at_task, state_ns, 80, 8)                                          \
    X(task, at_task, poll_start_ns, 88, 8)                                     \
    X(task, at_task, poll_end_ns, 96, 8)                                       \
    X(task, at_task, worker, 104, 4)                                           \
    X(task, at_task, flags, 108, 4)                                            \
    X(task, at_task, name, 112, 32)

#define AT_LAYOUT_RUNTIME(X)                                                   \
    X(runtime, at_runtime, magic, 0, 4)                                        \
    X(runtime, at_runtime, flavor, 4, 4)                                       \
    X(runtime, at_runtime, id, 8, 8)                                           \
    X(runtime, at_runtime, next, 16, 8)                                        \
    X(runtime, at_runtime, owned_head, 24, 8)                                  \
    X(runtime, at_runtime, task_count, 32, 8)                                  \
    X(runtime, at_runtime, workers, 40, 4)                                     \
    X(runtime, at_runtime, flags, 44, 4)                                       \
    X(runtime, at_runtime, now_ns, 48, 8)                                      \
    X(runtime, at_runtime, spawned_total, 56, 8)

#define AT_LAYOUT_CONTEXT(X)                                                   \
    X(context, at_trace_context, magic, 0, 4)                                  \
    X(context, at_trace_context, role, 4, 4)                                   \
    X(context, at_trace_context, tid, 8, 4)                                    \
    X(context, at_trace_context, worker, 12, 4)                                \
    X(context, at_trace_context, active, 16, 8)                                \
    X(context, at_trace_context, current, 24, 8)                               \
    X(context, at_trace_context, runtime, 32, 8)                               \
    X(context, at_trace_context, next, 40, 8)                                  \
    X(context, at_trace_context, prev, 48, 8)                                  \
    X(context, at_trace_context, collector, 56, 8)                             \
    X(context, at_trace_context, poll_start_ns, 64, 8)

#define AT_LAYOUT_MUTEX(X)                                                     \
    X(mutex, at_mutex, magic, 0, 4)                                            \
    X(mutex, at_mutex, locked, 4, 4)                                           \
    X(mutex, at_mutex, owner_id, 8, 8)                                         \
    X(mutex, at_mutex, owner, 16, 8)                                           \
    X(mutex, at_mutex, waiters, 24, 4)                                         \
    X(mutex, at_mutex, lock_site, 32, 8)                                       \
    X(mutex, at_mutex, lock_line, 40, 4)

#define AT_LAYOUT_SEMAPHORE(X)                                                 \
    X(semaphore, at_semaphore, magic, 0, 4)                                    \
    X(semaphore, at_semaphore, waiters, 4, 4)                                  \
    X(semaphore, at_semaphore, permits, 8, 8)                                  \
    X(semaphore, at_semaphore, max_permits, 16, 8)                             \
    X(semaphore, at_semaphore, untracked, 24, 8)                               \
    X(semaphore, at_semaphore, holders, 32, 128)

#define AT_LAYOUT_NOTIFY(X)                                                    \
    X(notify, at_notify, magic, 0, 4)                                          \
    X(notify, at_notify, waiters, 4, 4)                                        \
    X(notify, at_notify, permit, 8, 4)                                         \
    X(notify, at_notify, last_notifier, 16, 8)                                 \
    X(notify, at_notify, notified, 24, 8)

#define AT_LAYOUT_CHAN(X)                                                      \
    X(chan, at_chan, magic, 0, 4)                                              \
    X(chan, at_chan, flags, 4, 4)                                              \
    X(chan, at_chan, capacity, 8, 8)                                           \
    X(chan, at_chan, len, 16, 8)                                               \
    X(chan, at_chan, senders, 24, 8)                                           \
    X(chan, at_chan, rx_task_id, 32, 8)                                        \
    X(chan, at_chan, send_waiters, 40, 4)                                      \
    X(chan, at_chan, recv_waiters, 44, 4)                                      \
    X(chan, at_chan, tx_untracked, 48, 8)                                      \
    X(chan, at_chan, tx_holders, 56, 128)

#define AT_LAYOUT_ONESHOT(X)                                                   \
    X(oneshot, at_oneshot, magic, 0, 4)                                        \
    X(oneshot, at_oneshot, flags, 4, 4)                                        \
    X(oneshot, at_oneshot, rx_task_id, 8, 8)                                   \
    X(oneshot, at_oneshot, tx_task_id, 16, 8)

/* A row of a holder table (semaphore holders, channel tx_holders). */
#define AT_LAYOUT_HOLDER(X)                                                    \
    X(holder, at_holder, task_id, 0, 8)                                        \
    X(holder, at_holder, count, 8, 8)

#define AT_LAYOUT_BLOCKING_JOB(X)                                              \
    X(blocking_job, at_blocking_job, magic, 0, 4)                              \
    X(blocking_job, at_blocking_job, state, 4, 4)                              \
    X(blocking_job, at_blocking_job, id, 8, 8)                                 \
    X(blocking_job, at_blocking_job, tid, 16, 4)

/* Every record, in table order: X(record, c_type, list). */
#define AT_LAYOUT_RECORDS(X)                                                   \
    X(descriptor, at_debug_descriptor, AT_LAYOUT_DESCRIPTOR)                   \
    X(site, at_site, AT_LAYOUT_SITE)                                           \
    X(frame, at_frame, AT_LAYOUT_FRAME)                                        \
    X(leaf, at_leaf, AT_LAYOUT_LEAF)                                           \
    X(root_frame, at_root_frame, AT_LAYOUT_ROOT_FRAME)                         \
    X(task, at_task, AT_LAYOUT_TASK)                                           \
    X(runtime, at_runtime, AT_LAYOUT_RUNTIME)                                  \
    X(context, at_trace_context, AT_LAYOUT_CONTEXT)                            \
    X(mutex, at_mutex, AT_LAYOUT_MUTEX)                                        \
    X(semaphore, at_semaphore, AT_LAYOUT_SEMAPHORE)                            \
    X(notify, at_notify, AT_LAYOUT_NOTIFY)                                     \
    X(chan, at_chan, AT_LAYOUT_CHAN)                                           \
    X(oneshot, at_oneshot, AT_LAYOUT_ONESHOT)                                  \
    X(holder, at_holder, AT_LAYOUT_HOLDER)                                     \
    X(blocking_job, at_blocking_job, AT_LAYOUT_BLOCKING_JOB)                   \
    X(await, at_await, AT_LAYOUT_AWAIT)

/* Enum tables in the descriptor, in this order: X(table_name, list). */
#define AT_ENUM_TABLES(X)                                                      \
    X(task_state, AT_TASK_STATES)                                              \
    X(frame_kind, AT_FRAME_KINDS)                                              \
    X(resource_kind, AT_RESOURCE_KINDS)                                        \
    X(flavor, AT_FLAVORS)                                                      \
    X(thread_role, AT_THREAD_ROLES)

/* Name of an enum value (for printing), "?" when out of range. */
const char *at_task_state_name(uint32_t state);
const char *at_frame_kind_name(uint32_t kind);
const char *at_resource_kind_name(uint32_t kind);
const char *at_flavor_name(uint32_t flavor);
const char *at_thread_role_name(uint32_t role);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* ASYNCTRACE_ABI_H */
