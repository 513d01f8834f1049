/* trace_internal.h - private to the live-trace module; never installed.
 *
 * The pieces of a live dump and how they meet:
 *   trace_leaf.c     at_trace_leaf: the leaves' first call (fast path)
 *   trace_capture.c  the collector; unwinding with libunwind, or by frame
 *                    pointers where cfi_rule.c says every frame keeps one
 *   callsite.c       capstone: the call instruction before a return address
 *   symbolize.c      raw frames -> at_dump_native (names, file:line)
 *   livedump.c       the dump itself, at a runtime's safe point
 *   mt_dump.c        the same dump of a multi-thread runtime, world stopped
 *   dump_request.c   the request queue, at_dump_tasks, at_dump_runtime_tasks
 *   dump_signal.c    dump on a signal
 *   json_writer.c, text_writer.c   the two output forms */
#ifndef AT_TRACE_INTERNAL_H
#define AT_TRACE_INTERNAL_H

#include "core/internal.h"
#include "sched/sched.h"

/* ---- Collector (trace_capture.c) ---- */

/* Frames kept per backtrace at most; a deeper stack is cut and flagged. */
#define AT__TRACE_MAX_FRAMES 256

/* One native frame as unwound: its pc (a return address) and the start of
 * the procedure that contains it (0 when libunwind does not know it). */
typedef struct at__raw_frame {
    uint64_t ip;
    uint64_t start;
} at__raw_frame;

#define AT__BT_CUT 0x1u          /* stopped at the depth cap */
#define AT__BT_NO_ROOT 0x2u      /* no at_root_poll above the leaf */

typedef struct at__raw_backtrace {
    size_t first;   /* index of its innermost frame in frames[] */
    size_t count;
    size_t slot;    /* the traced task's slot (collector->slot at capture) */
    uint32_t flags; /* AT__BT_* */
    uint32_t pad;
} at__raw_backtrace;

/* Small open-addressing map from an address to a value (0 = absent). */
typedef struct at__addr_map {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap, len;  /* cap is a power of two */
} at__addr_map;

int at__addr_map_put(at__addr_map *m, uint64_t key, uint64_t val);
uint64_t at__addr_map_get(const at__addr_map *m, uint64_t key);
void at__addr_map_free(at__addr_map *m);

typedef struct at__collector {
    at__raw_frame *frames;
    size_t nframes, frames_cap;
    at__raw_backtrace *bts;
    size_t nbts, bts_cap;
    size_t slot;          /* set by the dumper before each trace poll */
    int oom;              /* a backtrace was lost for lack of memory */
    int depth_hint;       /* ips a fast capture needed so far, at most */
    /* The last fast capture: its ips (up to and including at_root_poll's)
     * and its backtrace.  A stack with the same ips is the same backtrace. */
    int last_used;        /* 0: none */
    int last_fp;          /* it was read by frame pointers (at__capture_fp) */
    size_t last_bt;
    uint64_t last_ips[AT__TRACE_MAX_FRAMES + 2];
    at__addr_map starts;  /* ip -> procedure start, memo of unw_get_proc_info */
    at__addr_map names;   /* procedure start -> malloc'd name (char *) */
    /* Which return addresses lie where their function keeps a standard
     * frame pointer (cfi_rule.c): 1 yes, 2 no. */
    at__addr_map fp_rule;
    struct Dwfl *dwfl;    /* opened on first need */
    int dwfl_failed;
} at__collector;

/* 1 if the code at return address ra keeps a standard frame pointer (its
 * CFA is %rbp + 16, %rbp and the return address saved below it), by its
 * call frame information; memoised in c (cfi_rule.c). */
int at__keeps_frame_pointer(at__collector *c, uint64_t ra);
/* Release what at__keeps_frame_pointer opened and remembered. */
void at__cfi_close(at__collector *c);
/* A libdwfl session over this process's own modules (cfi_rule.c; the
 * capture's frame rules and the dump's symbols), or NULL. */
struct Dwfl *at__dwfl_self_open(void);

void at__collector_init(at__collector *c);
/* Size the arrays for about `tasks` backtraces up front (no copying while
 * tracing); failure is harmless (they grow on demand). */
void at__collector_presize(at__collector *c, size_t tasks);
void at__collector_free(at__collector *c);
/* Name of the procedure starting at `start` as libunwind read it during
 * capture, or NULL. */
const char *at__collector_name(const at__collector *c, uint64_t start);

/* How many threads have a collector installed (or are about to): while 0,
 * at_trace_leaf returns at once.  Raised before a thread installs its
 * collector and lowered after it removes it (at__trace_begin/_end), so a
 * leaf polled by that thread always sees it raised. */
extern int at__trace_active;
static inline void at__trace_begin(void)
{
    __atomic_fetch_add(&at__trace_active, 1, __ATOMIC_RELAXED);
}
static inline void at__trace_end(void)
{
    __atomic_fetch_sub(&at__trace_active, 1, __ATOMIC_RELAXED);
}

/* Capture the current backtrace into cx->thread->collector (called by
 * at_trace_leaf only, so that its frame is on the stack). */
void at__trace_capture(at_context *cx);

/* Trace::capture: run fn(arg) with `c` installed as this thread's
 * collector, remove it, and return fn's result. */
int at__trace_capture_run(at_trace_context *tcx, at__collector *c,
                          int (*fn)(void *), void *arg);

/* ---- Call sites (callsite.c) ---- */

typedef struct at__callsite_decoder at__callsite_decoder;

/* NULL when capstone cannot be opened. */
at__callsite_decoder *at__callsite_open(void);
void at__callsite_close(at__callsite_decoder *d);

typedef struct at__callsite {
    uint64_t site;    /* address of the call instruction */
    uint64_t target;  /* direct call's target, 0 for an indirect call */
    uint32_t length;  /* instruction length */
} at__callsite;

/* Find the call instruction that ends exactly at return address `ra`,
 * reading no byte below `lo` (the procedure's start; 0 = ra - 15).
 * `callee` is the start of the procedure the call went to (0 if unknown);
 * it breaks ties between decodings.  Returns 1 and fills *out when found,
 * 0 when no call ends at ra (the frame is then unverified). */
int at__callsite_find(at__callsite_decoder *d, uint64_t ra, uint64_t lo,
                      uint64_t callee, at__callsite *out);

/* ---- Symbols (symbolize.c) ---- */

/* Turn the collector's raw backtraces into at_dump_backtrace arrays inside
 * dump d: out[i] receives backtrace i of the collector (frames innermost
 * first, each with call site, symbol, offset, file:line, verified).
 * Addresses are resolved once each.  Returns 0 or AT_ENOMEM. */
int at__symbolize_backtraces(at_dump *d, const at__collector *c,
                             at_dump_backtrace *out);

/* ---- Live dump (livedump.c) ---- */

/* Take a live dump of rt at a safe point, on a thread that drives it (tcx
 * is this thread's context: rt->owner, or a worker that stopped the others).
 * `requester` is the task that asked (shown as running) or NULL.  Returns
 * NULL when out of memory. */
at_dump *at__live_dump(at_runtime *rt, at_trace_context *tcx, at_task *requester);

/* The same dump of a multi-thread runtime, taken by one of its workers
 * after stopping the others (mt_dump.c). */
at_dump *at__mt_live_dump(at_runtime *rt, at_trace_context *tcx, at_task *requester);
/* 1 if this thread is one of rt's workers (mt_scheduler.c). */
int at__mt_is_worker(const at_runtime *rt);

/* Where the time of the last live dump taken by this thread went (set by
 * at__live_dump; read by the benchmark). */
typedef struct at__live_dump_stats {
    size_t tasks, traced;
    uint64_t snapshot_ns;  /* the snapshot walk (persistent part) */
    uint64_t trace_ns;     /* draining, trace polls with unwinding, re-waking */
    uint64_t symbolize_ns; /* call sites, names, lines; attaching */
} at__live_dump_stats;
extern __thread at__live_dump_stats at__live_dump_last;

/* Keep only runtime `runtime_id` in d (its threads too); notes stay. */
void at__dump_keep_runtime(at_dump *d, uint64_t runtime_id);

/* ---- The dump subsystem as rt/ wires it (dump_request.c) ---- */

/* The live-dump safe point, registered with the scheduler by
 * at_runtime_new: called between two polls whenever rt->dump_state is not
 * NULL.  It serves at most one request per call and, when `busy` (the
 * runtime has tasks to run), none before rt->dump_not_before, so a flood
 * of requests cannot starve the tasks (AT__SAFE_POINT_DRAIN: serve what is
 * queued now, at the end of at_block_on). */
void at__dump_safe_point(at_runtime *rt, int busy);
/* The dump subsystem's registration, called by at_runtime_new for every
 * new runtime: the first call reads the environment's dump signal
 * settings.  Explicit on purpose, see rt/runtime.c. */
void at__dump_attach(at_runtime *rt);
/* Called from at_runtime_shutdown: completes every request still queued for
 * rt with AT_ESHUTDOWN so no requester waits on a freed runtime. */
void at__dump_runtime_free(at_runtime *rt);

/* The snapshot walk of one runtime over trusted memory (no checked reads):
 * for live dumps, taken while that runtime is stopped at a safe point. */
at_dump *at__snapshot_direct(const at_runtime *rt);

/* ---- Requests (dump_request.c) ---- */

/* Queue an external request (req->runtime and runtime_id set) and wake the
 * runtime.  0, or AT_EBUSY when too many are pending. */
int at__dump_request_submit(at_dump_request *req);
/* Wait until req is done or the monotonic deadline passes.  On time it
 * returns 0 with req->result/status set and frees nothing; on timeout it
 * withdraws a queued request and returns AT_ETIMEDOUT (the caller frees
 * it), or abandons one being served to the dumper and returns
 * AT__DUMP_ABANDONED: then req may already be freed, never touch it. */
#define AT__DUMP_ABANDONED 1
int at__dump_request_wait(at_dump_request *req, uint64_t deadline_ns);

/* ---- Dumps on a signal (dump_signal.c) ---- */

/* Write d to path (text when `text`, else JSON) through a temporary file
 * created O_EXCL|O_NOFOLLOW, mode 0600, renamed into place (dump_file.c).
 * 0 or a negative errno. */
int at__dump_write_file(const at_dump *d, const char *path, int text);

/* Read ASYNCTRACE_DUMP_SIGNAL / _FILE / _TIMEOUT_MS (from at__dump_attach). */
void at__dump_signal_from_env(at_runtime *rt);

#endif
