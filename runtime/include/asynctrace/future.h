/* asynctrace/future.h - futures, the poll context, wakers, and the macros
 * that write async functions as stackless state machines.
 *
 * A future is a state struct whose first member is an at_frame (or, for a
 * runtime primitive, an at_leaf).  Its poll function returns AT_READY or
 * AT_PENDING; on AT_PENDING something has kept a waker and will wake the task.
 *
 * Writing an async function
 * -------------------------
 *
 *     typedef struct {
 *         AT_FRAME;                  // must be the first member
 *         int n, result;             // arguments, locals and the result
 *         union { at_sleep_fut sleep; child_state child; } aw; // children
 *     } countdown_state;
 *
 *     AT_ASYNC_FN(countdown, countdown_state)
 *     {
 *         AT_BEGIN(countdown_state);
 *         while (self->n > 0) {
 *             AT_AWAIT(at_sleep(&self->aw.sleep, 10 * AT_MS));
 *             self->n--;
 *         }
 *         self->result = 42;
 *         AT_END;
 *     }
 *
 *     // The constructor: set the arguments, then start the frame.
 *     at_frame *countdown(countdown_state *s, int n) { s->n = n; return AT_START(s, countdown); }
 *
 * Inside the body `self` is the state.  AT_AWAIT(expr) takes an at_frame *
 * (what every constructor returns), links it under this frame, and polls it;
 * the function resumes at that await when the task is polled again.
 *
 * Pitfalls (read these):
 *  - Locals of the C function do not survive an await.  Keep everything that
 *    must live across an await in the state struct (`self->...`).
 *  - Resumption uses GCC's labels-as-values (`&&label`), so a `switch`
 *    around an await is fine, and several awaits per line are fine (they report
 *    the same line).  Resuming skips the initialisers of C locals (see the
 *    first point); no compiler warning catches it.
 *  - The child futures' states must live in the state struct (usually a
 *    union of the children awaited at different points), never on the C
 *    stack: the child is polled again after this function returned.
 *  - Do not `return` from the body; use AT_END or AT_RETURN.  Falling off the
 *    end without AT_END is a warning (-Wreturn-type; make it an error).
 *  - AT_BEGIN(type) must name the same type as AT_ASYNC_FN(name, type) (a
 *    compile-time error otherwise).
 *  - An async function is file-local (like `static`); start it from other
 *    files through a constructor function.
 *  - A finished future polled again returns Ready without re-running.
 *  - A state type that does not start with an at_frame named `at_frame` is a
 *    compile-time error (AT_ASYNC_FN checks it).
 *  - Poll functions are never inlined (AT_ASYNC_FN marks them noinline), so a
 *    native stack during a poll has exactly one frame per await frame.
 *
 * AT_BENCH_NO_FRAMES (benchmark builds only, see docs/performance.md): when
 * defined, at__await_link/at__await_unlink keep only what resumption and
 * dropping need (the child pointer and the resume label address) and skip
 * the debugger bookkeeping (parent, sibling, resume line, publish ordering).
 * `make bench` builds a second copy of the library this way to measure what
 * the bookkeeping costs.  Traces of such a build are incomplete: never ship it.
 */
#ifndef ASYNCTRACE_FUTURE_H
#define ASYNCTRACE_FUTURE_H

#include "asynctrace/abi.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

#define AT_NOINLINE __attribute__((noinline, noclone))

/* Error codes: 0 is success, failures are negative (Linux errno values,
 * negated).  One list, X(name, value, message), makes the constants,
 * at_error_name() and at_strerror(); docs/runtime.md, "Error codes". */
#define AT_ERRORS(X)                                                           \
    X(AT_OK, 0, "success")                                                     \
    X(AT_EINVAL, -22, "invalid argument, or a handle used twice")             \
    X(AT_ENOMEM, -12, "out of memory")                                         \
    X(AT_ECLOSED, -32, "the other side of the channel is gone")               \
    X(AT_ECANCELED, -125, "the task was aborted")                              \
    X(AT_ETIMEDOUT, -110, "timed out")                                         \
    X(AT_ESHUTDOWN, -108, "the runtime is shut down")                          \
    X(AT_EBUSY, -16, "busy: too many requests pending, or in use")            \
    X(AT_EAGAIN, -11, "would block: try again later")

#define AT__ERROR_CONSTANT(name, value, message) name = (value),
enum at_error { AT_ERRORS(AT__ERROR_CONSTANT) };
#undef AT__ERROR_CONSTANT

/* The name of an error code ("AT_EINVAL"), or NULL when err is none of
 * AT_ERRORS. */
const char *at_error_name(int err);
/* A one-line description of an error code ("timed out"), or "unknown
 * error" when err is none of AT_ERRORS.  Never NULL; static storage. */
const char *at_strerror(int err);

/* Time units, in nanoseconds. */
#define AT_NS 1ull
#define AT_US 1000ull
#define AT_MS 1000000ull
#define AT_SEC 1000000000ull

/* The poll context: which task is being polled, on which thread. */
struct at_context {
    at_task *task;            /* the task being polled */
    at_trace_context *thread; /* the polling thread's context */
};

/* The task being polled, and a waker for it (the clone holds a reference). */
at_waker at_waker_clone(at_context *cx);
/* Wake and release: schedules the task (from any thread). */
void at_waker_wake(at_waker *w);
/* Wake without releasing the reference. */
void at_waker_wake_by_ref(const at_waker *w);
/* Release without waking.  Safe on an empty waker. */
void at_waker_drop(at_waker *w);

/* The id of the task being polled by this thread, 0 outside tasks. */
uint64_t at_current_task_id(void);
/* Monotonic clock in nanoseconds. */
uint64_t at_now_ns(void);

/* Called first by every leaf future's poll.  Returns 1 when the task is being
 * traced: the leaf must then return AT_PENDING at once, touching nothing.
 * Otherwise returns 0 (a load and a branch). */
AT_NOINLINE int at_trace_leaf(at_context *cx);

/* ---- Frames ---------------------------------------------------------------- */

/* Initialise a frame for its site; returns it.  Used by AT_START and by
 * primitives' constructors. */
static inline at_frame *at_frame_init(at_frame *f, const at_site *site)
{
    f->site = site;
    f->parent = 0;
    f->child = 0;
    f->sibling = 0;
    f->resume = 0;
    return f;
}

/* at_frame.resume of a finished frame. */
#define AT__RESUME_DONE ((const at_await *)(uintptr_t)AT_RESUME_DONE)

/* 1 when the frame's future returned Ready (AT_END, or marked by the
 * combinator that polled it). */
static inline int at_frame_done(const at_frame *f)
{
    return f->resume == AT__RESUME_DONE;
}

/* The source line of the await the frame is suspended in, 0 if none. */
static inline uint32_t at__frame_line(const at_frame *f)
{
    const at_await *a = f->resume;
    return a && a != AT__RESUME_DONE ? a->line : 0;
}

/* Poll a future directly (used by combinators and the scheduler). */
static inline at_poll_result at_poll(at_frame *f, at_context *cx)
{
    return f->site->poll(f, cx);
}

/* Drop a future that will not be polled again: runs the drop hooks of its
 * whole await tree, innermost first, and unlinks it from its parent. */
void at_frame_drop(at_frame *f);

#ifdef AT_BENCH_NO_FRAMES
static inline void at__await_link(at_frame *parent, at_frame *child,
                                  const at_await *aw)
{
    parent->resume = aw;
    parent->child = child;
}

static inline void at__await_unlink(at_frame *parent)
{
    parent->child = (at_frame *)0;
}
#else
/* Link `child` as the single awaited child of `parent`. */
static inline void at__await_link(at_frame *parent, at_frame *child,
                                  const at_await *aw)
{
    child->parent = parent;
    child->sibling = 0;
    __atomic_store_n(&parent->resume, aw, __ATOMIC_RELAXED);
    /* Publish the fully initialised child last (debugger ordering rule). */
    __atomic_store_n(&parent->child, child, __ATOMIC_RELEASE);
}

static inline void at__await_unlink(at_frame *parent)
{
    __atomic_store_n(&parent->child, (at_frame *)0, __ATOMIC_RELEASE);
    __atomic_store_n(&parent->resume, (const at_await *)0, __ATOMIC_RELAXED);
}
#endif /* AT_BENCH_NO_FRAMES */

/* ---- Async function macros ------------------------------------------------- */

#define AT__CAT2(a, b) a##b
#define AT__CAT(a, b) AT__CAT2(a, b)

/* First member of every async state struct. */
#define AT_FRAME at_frame at_frame

#define AT__CHECK_STATE(type)                                                  \
    _Static_assert(__builtin_offsetof(type, at_frame) == 0,                    \
                   #type " must start with AT_FRAME");                         \
    _Static_assert(__builtin_types_compatible_p(                               \
                       __typeof__(((type *)0)->at_frame), at_frame),           \
                   #type ".at_frame must be an at_frame")

/* Site record name for an async function. */
#define AT_SITE_OF(name) AT__CAT(name, __at_site)

/* The poll function of async function `name` takes its state type (the
 * site stores it as an at_poll_fn: every state starts with its at_frame, and
 * pointers to structures share one representation), so that AT_BEGIN can
 * check at compile time that it names the same type. */
#define AT__POLL_OF(name) AT__CAT(name, _poll)

/* Define an async function; the body follows in braces and must use
 * AT_BEGIN ... AT_END.  The function (its site record and poll function)
 * is file-local, like a static function: two files may each define an
 * async function of the same name.  Optional drop hook: AT_ASYNC_FN_DROP.
 * To start an async function from another file, give that file a
 * constructor function (at_frame *f(f_state *s, ...)) instead. */
#define AT_ASYNC_FN(name, type) AT_ASYNC_FN_DROP(name, type, 0)
#define AT_ASYNC_FN_DROP(name, type, drop_fn)                                  \
    AT__CHECK_STATE(type);                                                     \
    AT_NOINLINE static at_poll_result AT__POLL_OF(name)(type *, at_context *); \
    __attribute__((used)) static const at_site AT_SITE_OF(name) = {            \
        AT_SITE_MAGIC, AT_KIND_ASYNC, #name, __FILE__, __LINE__, 0,            \
        (at_poll_fn)AT__POLL_OF(name), (drop_fn)};                             \
    AT_NOINLINE static at_poll_result AT__POLL_OF(name)(type *at__self,        \
                                                        at_context *at__cx)

/* Start the frame of state `s` for async function `name`. */
#define AT_START(s, name) at_frame_init(&(s)->at_frame, &AT_SITE_OF(name))

/* Opens the body: declares `self` (a pointer to the state type, which must
 * be the type given to AT_ASYNC_FN: anything else is a compile-time error)
 * and jumps to the current await.  A finished function (AT_END reached)
 * polled again returns Ready at once: its body never runs twice. */
#define AT_BEGIN(type)                                                         \
    _Static_assert(__builtin_types_compatible_p(__typeof__(at__self), type *), \
                   "AT_BEGIN(" #type ") must name the state type of its "      \
                   "AT_ASYNC_FN");                                             \
    type *const self = at__self;                                               \
    at_frame *const at__frame = &self->at_frame;                               \
    (void)at__cx;                                                              \
    const at_await *const at__resume = at__frame->resume;                      \
    if (at__resume == AT__RESUME_DONE)                                         \
        return AT_READY;                                                       \
    if (at__resume)                                                            \
        goto *at__resume->addr

/* Await a future (an at_frame * expression). */
#define AT_AWAIT(expr) AT__AWAIT((expr), __COUNTER__)
#define AT__AWAIT(expr, id) AT__AWAIT2((expr), AT__CAT(at__resume_, id), id)
/* Each await has a static at_await record (its resume label and line): the
 * frame stores one pointer to it.  The empty asm after the child's poll
 * carries this await's number: it keeps the compiler from merging the poll
 * calls of different awaits into one call instruction (tail merging /
 * cross-jumping), so the return address of every await maps to its own
 * source line in a native backtrace. */
#define AT__AWAIT2(expr, label, id)                                            \
    do {                                                                       \
        static const at_await AT__CAT(at__await_, id) = {&&label, __LINE__, 0}; \
        at__await_link(at__frame, (expr), &AT__CAT(at__await_, id));           \
    label: {                                                                   \
        at_poll_result at__r = at_poll(at__frame->child, at__cx);              \
        __asm__ volatile("" : : "i"(id));                                      \
        if (at__r == AT_PENDING)                                               \
            return AT_PENDING;                                                 \
    }                                                                          \
        at__await_unlink(at__frame);                                           \
    } while (0)

/* Finish: the function's result must already be in the state.  The frame
 * is marked done, so a later poll returns Ready without running the body. */
#define AT_RETURN                                                              \
    do {                                                                       \
        __atomic_store_n(&at__frame->resume, AT__RESUME_DONE, __ATOMIC_RELAXED);\
        return AT_READY;                                                       \
    } while (0)

#define AT_END AT_RETURN

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* ASYNCTRACE_FUTURE_H */
