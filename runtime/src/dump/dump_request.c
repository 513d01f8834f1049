/* dump_request.c - asking a runtime for a live dump: the per-runtime
 * request queue, the safe point that serves it, at_dump_tasks (from a task)
 * and at_dump_runtime_tasks (from another thread, with a timeout).
 *
 * Each runtime's pending requests form a FIFO whose head is published in
 * rt->dump_state; the scheduler checks it with one relaxed load after each
 * poll and at its periodic check, and calls at__dump_safe_point (through
 * at__sched_safe_point), which serves the requests one after another (each
 * gets its own dump, so concurrent dumps are serialised; more than
 * AT_DUMP_MAX_PENDING waiting are refused with AT_EBUSY).
 *
 * Bounded serving: a safe point serves one request (requesters that ask
 * again as soon as they are answered would otherwise keep it serving
 * forever), and while the runtime has tasks to run, none for AT__DUMP_DUTY
 * times as long as that dump took (rt->dump_not_before), so back-to-back
 * requests take at most about a fifth of a busy runtime's time.  An idle
 * runtime comes back to its safe point at once, one request per turn.  One process-
 * wide mutex guards every queue and request state; it is never held while a
 * dump runs or while waiting for a runtime, so a requester can always give
 * up: a request still queued is withdrawn, one being served is abandoned and
 * freed by the dumper.  Lock order: registry lock, then this lock, then
 * rt->lock.
 *
 * Request states: QUEUED (in its runtime's queue) -> TAKEN (a dump is being
 * taken for it) -> DONE (result and status set). */
#include <stdlib.h>
#include <time.h>

#include "trace/trace_internal.h"

enum { AT__REQ_NEW, AT__REQ_QUEUED, AT__REQ_TAKEN, AT__REQ_DONE };

/* After a dump of D ns, a busy runtime serves the next after DUTY * D ns. */
#define AT__DUMP_DUTY 4

static pthread_mutex_t at__dump_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t at__dump_cond;
static pthread_once_t at__dump_cond_once = PTHREAD_ONCE_INIT;

static void at__dump_cond_init(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&at__dump_cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* ---- Queue (caller holds at__dump_lock) ---- */

static at_dump_request **at__queue_head(at_runtime *rt)
{
    return (at_dump_request **)&at__rt(rt)->dump_state;
}

static int at__enqueue_locked(at_dump_request *req)
{
    /* at_runtime_free sets the flag, then answers what is queued under this
     * lock: nothing may be queued after that. */
    if (__atomic_load_n(&req->runtime->flags, __ATOMIC_ACQUIRE) & AT_RTF_SHUTDOWN)
        return AT_ESHUTDOWN;
    at_dump_request **pp = at__queue_head(req->runtime);
    unsigned n = 0;
    while (*pp) {
        pp = &(*pp)->next;
        n++;
    }
    if (n >= AT_DUMP_MAX_PENDING)
        return AT_EBUSY;
    req->next = NULL;
    req->state = AT__REQ_QUEUED;
    __atomic_store_n(pp, req, __ATOMIC_RELEASE);
    return 0;
}

static void at__unlink_locked(at_dump_request *req)
{
    for (at_dump_request **pp = at__queue_head(req->runtime); *pp; pp = &(*pp)->next)
        if (*pp == req) {
            __atomic_store_n(pp, req->next, __ATOMIC_RELEASE);
            break;
        }
    req->next = NULL;
}

static at_dump_request *at__take_locked(at_runtime *rt)
{
    at_dump_request *req = *at__queue_head(rt);
    if (!req)
        return NULL;
    __atomic_store_n(at__queue_head(rt), req->next, __ATOMIC_RELEASE);
    req->next = NULL;
    req->state = AT__REQ_TAKEN;
    return req;
}

/* Mark done and wake whoever waits (caller holds the lock).  Returns the
 * requester task's waker for the caller to wake after unlocking. */
static at_waker at__complete_locked(at_dump_request *req, at_dump *d, int status)
{
    req->result = d;
    req->status = status;
    req->state = AT__REQ_DONE;
    at_waker w = req->waker;
    req->waker.task = NULL;
    pthread_cond_broadcast(&at__dump_cond);
    return w;
}

/* ---- Serving ---- */

/* Take one dump for req on this thread (which drives rt). */
static at_dump *at__dump_serve(at_runtime *rt, at_trace_context *tcx, at_dump_request *req,
                               int *status)
{
    at_dump *d = NULL;
    if (rt->flavor == AT_FLAVOR_CURRENT_THREAD)
        d = at__live_dump(rt, tcx, req->requester);
    else if (rt->flavor == AT_FLAVOR_MULTI_THREAD)
        d = at__mt_live_dump(rt, tcx, req->requester);
    else {
        *status = AT_EINVAL; /* live tracing of other flavors is not built in */
        return NULL;
    }
    *status = d ? 0 : AT_ENOMEM;
    return d;
}

/* Requests queued for rt now (caller holds at__dump_lock). */
static unsigned at__queued_locked(at_runtime *rt)
{
    unsigned n = 0;
    for (at_dump_request *q = *at__queue_head(rt); q; q = q->next)
        n++;
    return n;
}

static void at__dump_serve_one(at_runtime *rt, at_trace_context *tcx, uint64_t start);

void at__dump_safe_point(at_runtime *rt, int busy)
{
    at_trace_context *tcx = at__tls_context;
    /* Only a thread driving rt (between two polls of rt's tasks: in a nested
     * block_on the outer task's poll is still on the stack, which is fine),
     * and never from inside a trace poll. */
    if (!tcx || (at__rt(rt)->owner != tcx && !at__mt_is_worker(rt)) || tcx->collector)
        return;
    pthread_once(&at__dump_cond_once, at__dump_cond_init);
    uint64_t start = at_now_ns();
    if (busy == AT__SAFE_POINT_DRAIN) {
        /* Those queued now, not those their requesters add meanwhile. */
        pthread_mutex_lock(&at__dump_lock);
        unsigned n = at__queued_locked(rt);
        pthread_mutex_unlock(&at__dump_lock);
        for (unsigned i = 0; i < n; i++)
            at__dump_serve_one(rt, tcx, at_now_ns());
        return;
    }
    if (busy && start < __atomic_load_n(&at__rt(rt)->dump_not_before, __ATOMIC_RELAXED))
        return;
    at__dump_serve_one(rt, tcx, start);
}

static void at__dump_serve_one(at_runtime *rt, at_trace_context *tcx, uint64_t start)
{
    pthread_mutex_lock(&at__dump_lock);
    at_dump_request *req = at__take_locked(rt);
    pthread_mutex_unlock(&at__dump_lock);
    if (!req)
        return;
    int status;
    at_dump *d = at__dump_serve(rt, tcx, req, &status);
    uint64_t end = at_now_ns();
    __atomic_store_n(&at__rt(rt)->dump_not_before, end + AT__DUMP_DUTY * (end - start),
                     __ATOMIC_RELAXED);
    pthread_mutex_lock(&at__dump_lock);
    if (req->abandoned) {
        pthread_mutex_unlock(&at__dump_lock);
        at_dump_free(d);
        free(req);
        return;
    }
    at_waker w = at__complete_locked(req, d, status);
    pthread_mutex_unlock(&at__dump_lock);
    at_waker_wake(&w);
}

void at__dump_attach(at_runtime *rt)
{
    at__dump_signal_from_env(rt);
}

void at__dump_runtime_free(at_runtime *rt)
{
    pthread_once(&at__dump_cond_once, at__dump_cond_init);
    pthread_mutex_lock(&at__dump_lock);
    at_dump_request *req;
    while ((req = at__take_locked(rt))) {
        if (req->abandoned) {
            free(req);
            continue;
        }
        at_waker w = at__complete_locked(req, NULL, AT_ESHUTDOWN);
        at_waker_drop(&w); /* its task is being cancelled with the runtime */
    }
    pthread_mutex_unlock(&at__dump_lock);
}

int at__dump_request_submit(at_dump_request *req)
{
    pthread_once(&at__dump_cond_once, at__dump_cond_init);
    pthread_mutex_lock(&at__dump_lock);
    int rc = at__enqueue_locked(req);
    pthread_mutex_unlock(&at__dump_lock);
    if (rc == 0)
        at__runtime_unpark(req->runtime);
    return rc;
}

int at__dump_request_wait(at_dump_request *req, uint64_t deadline_ns)
{
    struct timespec ts = {(time_t)(deadline_ns / AT_SEC), (long)(deadline_ns % AT_SEC)};
    pthread_mutex_lock(&at__dump_lock);
    while (req->state != AT__REQ_DONE) {
        if (pthread_cond_timedwait(&at__dump_cond, &at__dump_lock, &ts) != 0 &&
            req->state != AT__REQ_DONE && at_now_ns() >= deadline_ns)
            break;
    }
    if (req->state == AT__REQ_DONE) {
        pthread_mutex_unlock(&at__dump_lock);
        return 0;
    }
    if (req->state == AT__REQ_QUEUED) {
        at__unlink_locked(req);
        req->state = AT__REQ_NEW;
        pthread_mutex_unlock(&at__dump_lock);
        return AT_ETIMEDOUT;
    }
    req->abandoned = 1; /* being served: the dumper frees it */
    pthread_mutex_unlock(&at__dump_lock);
    return AT__DUMP_ABANDONED;
}

/* ---- From another thread ---- */

int at_dump_runtime_tasks(at_runtime *rt, uint64_t timeout_ns, at_dump **out)
{
    if (!out)
        return AT_EINVAL;
    *out = NULL;
    if (!rt || rt->magic != AT_RUNTIME_MAGIC)
        return AT_EINVAL;
    at_trace_context *tcx = at__tls_context;
    if ((tcx && at__rt(rt)->owner == tcx) || at__mt_is_worker(rt))
        return AT_EINVAL; /* we are its thread: it would wait for itself */
    at_dump_request *req = calloc(1, sizeof(*req));
    if (!req)
        return AT_ENOMEM;
    req->runtime = rt;
    req->runtime_id = rt->id;
    int rc = at__dump_request_submit(req);
    if (rc < 0) {
        free(req);
        return rc;
    }
    uint64_t deadline = at_now_ns() + timeout_ns;
    uint64_t id = req->runtime_id;
    rc = at__dump_request_wait(req, deadline);
    if (rc == 0) {
        *out = req->result;
        rc = req->status;
        free(req);
        return rc;
    }
    if (rc != AT__DUMP_ABANDONED) /* abandoned: the dumper frees it */
        free(req);
    at_dump *d = at_snapshot_take();
    if (d) {
        at__dump_keep_runtime(d, id);
        at_dump_note(d,
                     "runtime %llu did not reach a safe point within %llu ms: this is a "
                     "snapshot taken without polling (no native backtraces)",
                     (unsigned long long)id, (unsigned long long)(timeout_ns / AT_MS));
    }
    *out = d;
    return AT_ETIMEDOUT;
}

/* ---- From inside a task ---- */

static at_poll_result at__dump_poll(at_frame *fr, at_context *cx);
static void at__dump_drop(at_frame *fr);
AT__LEAF_SITE(at__dump_site, "at_dump_tasks", at__dump_poll, at__dump_drop);

at_frame *at_dump_tasks(at_dump_fut *f)
{
    f->result = NULL;
    f->status = 0;
    f->phase = 0;
    memset(&f->req, 0, sizeof(f->req));
    return at__leaf_init(&f->leaf, &at__dump_site, AT_RES_DUMP, NULL);
}

AT_NOINLINE static at_poll_result at__dump_poll(at_frame *fr, at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_dump_fut *f = (at_dump_fut *)fr;
    if (f->phase == 0) {
        at_runtime *rt = cx->task ? cx->task->runtime : NULL;
        if (!rt) {
            f->status = AT_EINVAL;
            f->phase = 2;
            return AT_READY;
        }
        f->req.runtime = rt;
        f->req.runtime_id = rt->id;
        f->req.requester = cx->task;
        f->req.waker = at_waker_clone(cx);
        f->leaf.wait.object = rt;
        int rc = at__dump_request_submit(&f->req);
        if (rc < 0) {
            at_waker_drop(&f->req.waker);
            f->status = rc;
            f->phase = 2;
            return AT_READY;
        }
        f->phase = 1;
        at__leaf_waiting(&f->leaf);
        return AT_PENDING;
    }
    if (f->phase == 1) {
        pthread_mutex_lock(&at__dump_lock);
        int done = f->req.state == AT__REQ_DONE;
        if (done) {
            f->result = f->req.result;
            f->status = f->req.status;
            f->req.result = NULL;
        }
        pthread_mutex_unlock(&at__dump_lock);
        if (!done)
            return AT_PENDING;
        f->phase = 2;
    }
    return AT_READY;
}

static void at__dump_drop(at_frame *fr)
{
    at_dump_fut *f = (at_dump_fut *)fr;
    if (f->phase != 1)
        return;
    pthread_mutex_lock(&at__dump_lock);
    if (f->req.state == AT__REQ_QUEUED)
        at__unlink_locked(&f->req);
    at_dump *d = f->req.result;
    f->req.result = NULL;
    at_waker w = f->req.waker;
    f->req.waker.task = NULL;
    f->req.state = AT__REQ_NEW;
    pthread_mutex_unlock(&at__dump_lock);
    at_dump_free(d);
    at_waker_drop(&w);
    f->phase = 2;
}
