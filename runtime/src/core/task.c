/* task.c - task lifetime: allocation, spawning, reference counts, wakers,
 * join handles, abort, and the join and yield leaves.
 *
 * References: the runtime holds one from spawn until the task completes or
 * is cancelled; the join handle holds one until released; every cloned
 * waker holds one.  The task is unlinked from its runtime's owned list and
 * freed when the count reaches zero, so a finished task stays visible (as
 * complete or cancelled) for as long as somebody holds its handle. */
#include <stdlib.h>

#include "core/internal.h"

at_task *at__task_alloc(at_runtime *rt, size_t state_size)
{
    at_trace_context *tcx = at__tls_context;
    if (!rt && tcx && tcx->current)
        rt = tcx->current->runtime; /* at_runtime_current() */
    if (!rt || (__atomic_load_n(&rt->flags, __ATOMIC_ACQUIRE) & AT_RTF_SHUTDOWN))
        return NULL;
    if (state_size > SIZE_MAX - sizeof(at_task))
        return NULL;
    uint32_t cls;
    at_task *t = at__pool_alloc(rt, sizeof(at_task) + state_size, &cls);
    if (!t)
        return NULL;
    t->alloc_class = (uint8_t)cls;
    t->runtime = rt;
    return t;
}

/* Free a task that was never linked (spawn refused). */
static void at__task_discard(at_task *t)
{
    at__pool_free(t->runtime, t, t->alloc_class);
}

/* Link a new task at the head of the owned list.  Nobody but this thread
 * can reach t yet (no handle, no waker, not queued), so its flags are
 * written with plain atomic stores; the old head's owned_prev changes
 * before the new head is published (docs/abi.md, ordering rules). */
static void at__owned_link(at_runtime *rt, at_task *t)
{
    uint32_t flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
    atomic_store_explicit(&t->flags, flags | AT_TF_IN_FLUX, memory_order_relaxed);
    at__spin_lock(&at__rt(rt)->owned_lock);
    /* The node is complete before it becomes reachable. */
    AT__LIST_PUSH_HEAD(rt->owned_head, t, owned_next, owned_prev);
    rt->task_count++;
    rt->spawned_total++;
    atomic_store_explicit(&t->flags, flags, memory_order_release);
    at__generation_bump();
    at__spin_unlock(&at__rt(rt)->owned_lock);
}

/* Unlink from the owned list; caller holds rt->owned_lock.  `dead`: the
 * task's last reference is gone, so its flags have no other writer and
 * take a plain store instead of a read-modify-write. */
static inline void at__owned_unlink(at_runtime *rt, at_task *t, int dead)
{
    if (dead) {
        uint32_t flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
        atomic_store_explicit(&t->flags, flags | AT_TF_IN_FLUX, memory_order_relaxed);
    } else {
        atomic_fetch_or(&t->flags, AT_TF_IN_FLUX);
    }
    AT__LIST_UNLINK(rt->owned_head, t, owned_next, owned_prev);
    rt->task_count--;
    at__generation_bump();
}

void at__owned_unlink_locked(at_runtime *rt, at_task *t)
{
    at__owned_unlink(rt, t, 0);
}

/* The last reference is gone: nobody else can touch t any more (nor wake
 * it: a waker holds a reference, a queued waiter keeps its task alive). */
static void at__task_free(at_task *t)
{
    at_runtime *rt = t->runtime;
    if (rt) {
        /* Off any list of the scheduler flavor first (current-thread: the
         * wake-request list, rarely).  Lock order: rt->lock, then
         * rt->owned_lock. */
        const at__sched_ops *ops = at__rt(rt)->sched_ops;
        int locked = ops->task_leaving && ops->task_leaving(rt, t);
        at__spin_lock(&at__rt(rt)->owned_lock);
        at__owned_unlink(rt, t, 1);
        at__spin_unlock(&at__rt(rt)->owned_lock);
        if (locked)
            pthread_mutex_unlock(&at__rt(rt)->lock);
    }
    t->magic = AT_DEAD_MAGIC;
    at__pool_free(rt, t, t->alloc_class);
}

void at__task_ref(at_task *t)
{
    atomic_fetch_add_explicit(&t->refcount, 1, memory_order_relaxed);
}

void at__task_unref(at_task *t)
{
    if (atomic_fetch_sub_explicit(&t->refcount, 1, memory_order_acq_rel) == 1)
        at__task_free(t);
}

at_join_handle at__task_spawn(at_task *t, at_frame *root, const char *name,
                              const at_site *site)
{
    at_join_handle h = {0};
    at_runtime *rt = t->runtime;
    if (!root || (__atomic_load_n(&rt->flags, __ATOMIC_ACQUIRE) & AT_RTF_SHUTDOWN)) {
        at__task_discard(t);
        return h;
    }
    uint64_t now = at__stamp_ns();
    at_trace_context *tcx = at__tls_context;
    t->id = __atomic_fetch_add(&asynctrace_debug.next_task_id, 1, __ATOMIC_RELAXED);
    t->parent_id = tcx && tcx->current ? tcx->current->id : 0; /* at_current_task_id() */
    t->spawn_site = site;
    t->root = root;
    t->created_ns = now;
    t->state_ns = now;
    atomic_store_explicit(&t->worker, -1, memory_order_relaxed);
    at_task_set_name(t, name ? name : (root->site ? root->site->function : ""));
    atomic_store_explicit(&t->refcount, 2, memory_order_relaxed); /* runtime + handle */
    atomic_store_explicit(&t->state, AT_TASK_SCHEDULED, memory_order_relaxed);
    t->magic = AT_TASK_MAGIC;
    at__owned_link(rt, t);
    at__rt(rt)->sched_ops->enqueue(rt, t);
    h.task = t;
    return h;
}

at_join_handle at__spawn_frame(at_runtime *rt, at_frame *root, const char *name,
                               const at_site *site)
{
    at_join_handle h = {0};
    at_task *t = at__task_alloc(rt, 0);
    if (t)
        h = at__task_spawn(t, root, name, site);
    return h;
}

void at_task_set_name(at_task *t, const char *name)
{
    size_t i = 0;
    if (name)
        for (; i < AT_TASK_NAME_MAX - 1 && name[i]; i++)
            t->name[i] = name[i];
    t->name[i] = 0;
}

uint64_t at_join_handle_id(at_join_handle h)
{
    return h.task ? h.task->id : 0;
}

void at_join_handle_release(at_join_handle *h)
{
    if (!h || !h->task)
        return;
    at_task *t = h->task;
    h->task = NULL;
    /* Mark it detached unless this was its last reference (it goes now). */
    if (atomic_load_explicit(&t->refcount, memory_order_relaxed) > 1)
        atomic_fetch_or(&t->flags, AT_TF_DETACHED);
    at__task_unref(t);
}

/* ---- Waking ---- */

void at__task_wake_slow(at_task *t)
{
    at_runtime *rt = t->runtime;
    if (rt)
        at__rt(rt)->sched_ops->wake(rt, t);
    else
        at__task_wake_shared(NULL, t);
}

void at__task_wake_shared(at_runtime *rt, at_task *t)
{
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        if (s == AT_TASK_IDLE) {
            if (atomic_compare_exchange_weak_explicit(&t->state, &s, AT_TASK_SCHEDULED,
                                                      memory_order_acq_rel,
                                                      memory_order_acquire)) {
                at__stamp_state(t);
                if (rt)
                    at__rt(rt)->sched_ops->enqueue(rt, t);
                return;
            }
            continue; /* s holds the state that made the CAS fail */
        }
        if (s == AT_TASK_RUNNING) {
            /* A full barrier (locked RMW), then the re-read: pairs with the
             * poller's exchange to IDLE followed by its read of the flags. */
            atomic_fetch_or(&t->flags, AT_TF_NOTIFIED);
            s = atomic_load_explicit(&t->state, memory_order_acquire);
            if (s == AT_TASK_RUNNING)
                return;
            continue; /* it went idle meanwhile: schedule it ourselves */
        }
        return; /* scheduled already, or finished */
    }
}

void at_task_abort(at_join_handle h)
{
    at_task *t = h.task;
    if (!t)
        return;
    uint32_t s = atomic_load(&t->state);
    if (s == AT_TASK_COMPLETE || s == AT_TASK_CANCELLED)
        return;
    atomic_fetch_or(&t->flags, AT_TF_ABORT);
    at__task_wake(t);
}

/* ---- Wakers ---- */

at_waker at_waker_clone(at_context *cx)
{
    at_waker w = {cx->task};
    if (w.task)
        at__task_ref(w.task);
    return w;
}

void at_waker_wake_by_ref(const at_waker *w)
{
    if (w->task)
        at__task_wake(w->task);
}

void at_waker_wake(at_waker *w)
{
    at_task *t = w->task;
    if (!t)
        return;
    w->task = NULL;
    at__task_wake(t);
    at__task_unref(t);
}

void at_waker_drop(at_waker *w)
{
    at_task *t = w->task;
    if (!t)
        return;
    w->task = NULL;
    at__task_unref(t);
}

/* ---- Completion, called by the scheduler ---- */

/* Wake the joiner, if any (after the state became final). */
void at__task_notify_joiner(at_task *t)
{
    at__spin_lock8(&t->join_lock);
    at_waker w = t->join_waker;
    t->join_waker.task = NULL;
    at__spin_unlock8(&t->join_lock);
    at_waker_wake(&w);
}

/* ---- Frames ---- */

void at_frame_drop(at_frame *f)
{
    at_frame *c = f->child;
    while (c) {
        at_frame *next = c->sibling; /* kept intact by the child's drop */
        at_frame_drop(c);
        c = next;
    }
    f->child = NULL;
    if (f->site && f->site->drop)
        f->site->drop(f);
    if (f->resume != AT__RESUME_DONE)
        __atomic_store_n(&f->resume, (const at_await *)NULL, __ATOMIC_RELAXED);
    /* Unlink from the parent's child list (sibling pointer left as is so a
     * caller iterating siblings can go on). */
    at_frame *p = f->parent;
    if (p) {
        if (p->child == f) {
            p->child = f->sibling;
        } else {
            for (at_frame *s = p->child; s; s = s->sibling)
                if (s->sibling == f) {
                    s->sibling = f->sibling;
                    break;
                }
        }
        f->parent = NULL;
    }
}

/* ---- Join ---- */

static at_poll_result at__join_poll(at_frame *f, at_context *cx);
static void at__join_drop(at_frame *f);
AT__LEAF_SITE(at__join_site, "at_join", at__join_poll, at__join_drop);

at_frame *at_join(at_join_fut *f, at_join_handle h)
{
    f->handle = h;
    f->status = 0;
    f->queued = 0;
    at_frame *fr = at__leaf_init(&f->leaf, &at__join_site, AT_RES_JOIN, h.task);
    f->leaf.wait.detail[0] = h.task ? h.task->id : 0;
    return fr;
}

AT_NOINLINE static at_poll_result at__join_poll(at_frame *fr, at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_join_fut *f = (at_join_fut *)fr;
    at_task *t = f->handle.task;
    if (!t || t == cx->task) {
        f->status = AT_EINVAL;
        return AT_READY;
    }
    /* Finished already and we never queued: no lock needed (the first
     * join to set JOINED gets the result). */
    if (!f->queued) {
        uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
        if (s == AT_TASK_COMPLETE || s == AT_TASK_CANCELLED) {
            uint32_t old = atomic_fetch_or(&t->flags, AT_TF_JOINED);
            f->status = (old & AT_TF_JOINED) ? AT_EINVAL : t->result;
            return AT_READY;
        }
    }
    at__spin_lock8(&t->join_lock);
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    uint32_t flags = atomic_load(&t->flags);
    if (s == AT_TASK_COMPLETE || s == AT_TASK_CANCELLED) {
        if (flags & AT_TF_JOINED) {
            f->status = AT_EINVAL;
        } else {
            atomic_fetch_or(&t->flags, AT_TF_JOINED);
            f->status = t->result;
        }
        if (f->queued) {
            at_waker_drop(&t->join_waker);
            f->queued = 0;
        }
        at__spin_unlock8(&t->join_lock);
        return AT_READY;
    }
    if (flags & AT_TF_JOINED) {
        at__spin_unlock8(&t->join_lock);
        f->status = AT_EINVAL;
        return AT_READY;
    }
    if (!f->queued) {
        if (t->join_waker.task) { /* somebody else already joins it */
            at__spin_unlock8(&t->join_lock);
            f->status = AT_EINVAL;
            return AT_READY;
        }
        t->join_waker = at_waker_clone(cx);
        f->queued = 1;
    }
    at__spin_unlock8(&t->join_lock);
    at__leaf_waiting(&f->leaf);
    return AT_PENDING;
}

static void at__join_drop(at_frame *fr)
{
    at_join_fut *f = (at_join_fut *)fr;
    at_task *t = f->handle.task;
    if (!t || !f->queued)
        return;
    at__spin_lock8(&t->join_lock);
    at_waker w = t->join_waker;
    t->join_waker.task = NULL;
    at__spin_unlock8(&t->join_lock);
    at_waker_drop(&w);
    f->queued = 0;
}

/* ---- Yield ---- */

static at_poll_result at__yield_poll(at_frame *f, at_context *cx);
AT__LEAF_SITE(at__yield_site, "at_yield", at__yield_poll, NULL);

at_frame *at_yield(at_yield_fut *f)
{
    f->yielded = 0;
    return at__leaf_init(&f->leaf, &at__yield_site, AT_RES_YIELD, NULL);
}

AT_NOINLINE static at_poll_result at__yield_poll(at_frame *fr, at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_yield_fut *f = (at_yield_fut *)fr;
    if (f->yielded)
        return AT_READY;
    f->yielded = 1;
    at__leaf_waiting(&f->leaf);
    at__task_wake(cx->task);
    return AT_PENDING;
}
