/* sync.c - the async mutex (FIFO, direct hand-off, records its owner task),
 * the counting semaphore (FIFO) and notify.
 *
 * Each object guards its state with its private spin lock.  A waiting leaf
 * puts an at_waiter on the object's queue, with the task to wake and no
 * reference on it: a queued waiter's task cannot go away, since its future
 * leaves the queue only under the lock (drop hook) or by seeing its waiter
 * marked.  Whoever grants a waiter (unlock, release, notify) pops it under
 * the lock, wakes its task, then marks it granted with a release store; once
 * marked, the waiter's memory may vanish at any moment (its task can be
 * polled on another thread), so nothing touches it afterwards.  A granted
 * leaf sees the mark (acquire) and completes without taking the lock; one
 * that still sees itself queued looks again under the lock, since a granter
 * may be between its wake and its mark. */
#include <stdlib.h>

#include "sync/holders.h"

/* at_waiter.state values (abi.h). */
enum { AT__W_QUEUED = 0, AT__W_GRANTED = 1, AT__W_CLOSED = 2 };

/* Put the polled task on a wait queue (no reference: see the top). */
static void at__waiter_enqueue(at_waiter **head, at_waiter **tail,
                               at_waiter *w, at_context *cx)
{
    w->waker.task = cx->task;
    w->how = 0;
    __atomic_store_n(&w->state, AT__W_QUEUED, __ATOMIC_RELAXED);
    at__waitq_push(head, tail, w);
}

/* The id of a queued (not yet granted) waiter's task, 0 outside tasks. */
static inline uint64_t at__waiter_task_id(const at_waiter *w)
{
    return w->waker.task ? w->waker.task->id : 0;
}

/* Wake a popped waiter's task, then mark it granted (lock held).  After
 * the mark the waiter and its task may vanish. */
static void at__waiter_grant(at_waiter *w)
{
    at_task *t = w->waker.task;
    w->waker.task = NULL;
    if (t)
        at__task_wake(t);
    __atomic_store_n(&w->state, AT__W_GRANTED, __ATOMIC_RELEASE);
}

/* A queued leaf's poll: 1 if its waiter was granted (then it is no longer
 * queued), 0 if it still waits.  Lock-free when the grant is visible. */
static int at__waiter_granted(_Atomic uint32_t *lock, at_waiter *w)
{
    uint32_t st = __atomic_load_n(&w->state, __ATOMIC_ACQUIRE);
    if (st == AT__W_QUEUED) {
        at__spin_lock(lock);
        st = w->state;
        at__spin_unlock(lock);
    }
    if (st != AT__W_GRANTED)
        return 0;
    w->queued = 0;
    return 1;
}

/* ====================================================================== */
/* Mutex                                                                  */
/* ====================================================================== */

void at_mutex_init(at_mutex *m)
{
    memset(m, 0, sizeof *m);
    m->magic = AT_MUTEX_MAGIC;
}

int at_mutex_destroy(at_mutex *m)
{
    at__spin_lock(&m->lock);
    if (m->locked || m->head) {
        at__spin_unlock(&m->lock);
        return AT_EBUSY;
    }
    m->magic = AT_DEAD_MAGIC;
    at__spin_unlock(&m->lock);
    return 0;
}

/* Lock held: record where the new holder took the lock: the innermost
 * async frame above the lock leaf `leaf` (a combinator between them is
 * skipped), or nothing when there is no frame (try_lock). */
static void at__mutex_note_site(at_mutex *m, const at_frame *leaf)
{
    const at_frame *f = leaf ? leaf->parent : NULL;
    for (int i = 0; f && i < 4 && f->site && f->site->kind != AT_KIND_ASYNC; i++)
        f = f->parent;
    if (f && f->site && f->site->kind == AT_KIND_ASYNC) {
        m->lock_site = f->site;
        m->lock_line = at__frame_line(f);
    } else {
        m->lock_site = NULL;
        m->lock_line = 0;
    }
}

/* Lock held: hand the mutex to the first waiter (it becomes the owner at
 * once, so nobody can overtake it, and is woken) or release it. */
static void at__mutex_pass(at_mutex *m)
{
    at_waiter *w = at__waitq_pop(&m->head, &m->tail);
    if (!w) {
        m->owner = NULL;
        m->owner_id = 0;
        m->locked = 0;
        m->lock_site = NULL;
        m->lock_line = 0;
        return;
    }
    at__count_down(&m->waiters);
    m->owner_id = at__waiter_task_id(w);
    m->owner = w->waker.task;
    /* A queued waiter's future is alive (it leaves the queue only under
     * the lock): its leaf frame gives the new holder's await site. */
    at__mutex_note_site(m, &((at_mutex_lock_fut *)((char *)w -
                             offsetof(at_mutex_lock_fut, waiter)))->leaf.frame);
    at__waiter_grant(w);
}

AT_NOINLINE static at_poll_result at__mutex_lock_poll(at_frame *frame,
                                                      at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_mutex_lock_fut *f = (at_mutex_lock_fut *)frame;
    at_mutex *m = (at_mutex *)f->leaf.wait.object;

    if (f->waiter.queued)
        return at__waiter_granted(&m->lock, &f->waiter) ? AT_READY
                                                                    : AT_PENDING;
    at__spin_lock(&m->lock);
    if (!m->locked && !m->head) {
        m->locked = 1;
        m->owner_id = at_current_task_id();
        m->owner = at_task_current();
        at__mutex_note_site(m, frame);
        at__spin_unlock(&m->lock);
        return AT_READY;
    }
    at__waiter_enqueue(&m->head, &m->tail, &f->waiter, cx);
    at__count_up(&m->waiters);
    f->waiter.queued = 1;
    at__spin_unlock(&m->lock);
    at__leaf_waiting(&f->leaf);
    return AT_PENDING;
}

/* Cancelled: leave the queue, or pass on a lock granted but never seen. */
static void at__mutex_lock_drop(at_frame *frame)
{
    at_mutex_lock_fut *f = (at_mutex_lock_fut *)frame;
    at_mutex *m = (at_mutex *)f->leaf.wait.object;

    if (!f->waiter.queued)
        return;
    at__spin_lock(&m->lock);
    if (f->waiter.state == AT__W_QUEUED) {
        at__waitq_remove(&m->head, &m->tail, &f->waiter);
        at__count_down(&m->waiters);
    } else if (f->waiter.state == AT__W_GRANTED) {
        at__mutex_pass(m);
    }
    f->waiter.queued = 0;
    at__spin_unlock(&m->lock);
    f->waiter.waker.task = NULL;
}

AT__LEAF_SITE(at__mutex_lock_site, "at_mutex_lock", at__mutex_lock_poll,
              at__mutex_lock_drop);

at_frame *at_mutex_lock(at_mutex_lock_fut *f, at_mutex *m)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    return at__leaf_init(&f->leaf, &at__mutex_lock_site, AT_RES_MUTEX, m);
}

int at_mutex_try_lock(at_mutex *m)
{
    int rc = AT_EBUSY;
    at__spin_lock(&m->lock);
    if (!m->locked && !m->head) {
        m->locked = 1;
        m->owner_id = at_current_task_id();
        m->owner = at_task_current();
        at__mutex_note_site(m, NULL);
        rc = 0;
    }
    at__spin_unlock(&m->lock);
    return rc;
}

int at_mutex_unlock(at_mutex *m)
{
    at__spin_lock(&m->lock);
    if (!m->locked) {
        at__spin_unlock(&m->lock);
        return AT_EINVAL;
    }
    at__mutex_pass(m);
    at__spin_unlock(&m->lock);
    return 0;
}

/* ====================================================================== */
/* Semaphore                                                              */
/* ====================================================================== */

void at_semaphore_init(at_semaphore *s, uint64_t permits)
{
    memset(s, 0, sizeof *s);
    s->magic = AT_SEM_MAGIC;
    s->permits = permits;
    s->max_permits = permits;
}

/* Lock held: grant queued requests in FIFO order while the head one
 * fits. */
static void at__semaphore_grant_locked(at_semaphore *s)
{
    at_waiter *w;
    while ((w = s->head)) {
        at_semaphore_acquire_fut *f = (at_semaphore_acquire_fut *)(void *)(
            (char *)w - offsetof(at_semaphore_acquire_fut, waiter));
        uint64_t want = f->leaf.wait.detail[0];
        if (want > s->permits)
            break;
        at__waitq_remove(&s->head, &s->tail, w);
        at__count_down(&s->waiters);
        s->permits -= want;
        f->holder_id = at__waiter_task_id(w);
        at__holders_add(s->holders, &s->untracked, f->holder_id, want);
        at__waiter_grant(w);
    }
}

/* Lock held: add permits, saturating. */
static void at__semaphore_add_locked(at_semaphore *s, uint64_t n)
{
    s->permits = s->permits > UINT64_MAX - n ? UINT64_MAX : s->permits + n;
}

AT_NOINLINE static at_poll_result at__semaphore_acquire_poll(at_frame *frame,
                                                             at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_semaphore_acquire_fut *f = (at_semaphore_acquire_fut *)frame;
    at_semaphore *s = (at_semaphore *)f->leaf.wait.object;
    uint64_t n = f->leaf.wait.detail[0];

    if (f->waiter.queued)
        return at__waiter_granted(&s->lock, &f->waiter) ? AT_READY
                                                                    : AT_PENDING;
    at__spin_lock(&s->lock);
    if (!s->head && s->permits >= n) {
        s->permits -= n;
        at__holders_add(s->holders, &s->untracked, cx->task ? cx->task->id : 0, n);
        at__spin_unlock(&s->lock);
        return AT_READY;
    }
    at__waiter_enqueue(&s->head, &s->tail, &f->waiter, cx);
    at__count_up(&s->waiters);
    f->waiter.queued = 1;
    at__spin_unlock(&s->lock);
    at__leaf_waiting(&f->leaf);
    return AT_PENDING;
}

/* Cancelled: leave the queue (which may unblock smaller requests behind
 * it), or give back permits granted but never seen. */
static void at__semaphore_acquire_drop(at_frame *frame)
{
    at_semaphore_acquire_fut *f = (at_semaphore_acquire_fut *)frame;
    at_semaphore *s = (at_semaphore *)f->leaf.wait.object;

    if (!f->waiter.queued)
        return;
    at__spin_lock(&s->lock);
    if (f->waiter.state == AT__W_QUEUED) {
        at__waitq_remove(&s->head, &s->tail, &f->waiter);
        at__count_down(&s->waiters);
    } else if (f->waiter.state == AT__W_GRANTED) {
        uint64_t want = f->leaf.wait.detail[0];
        at__semaphore_add_locked(s, want);
        at__holders_take(s->holders, &s->untracked, f->holder_id, f->holder_id, want);
    }
    f->waiter.queued = 0;
    at__semaphore_grant_locked(s);
    at__spin_unlock(&s->lock);
    f->waiter.waker.task = NULL;
}

AT__LEAF_SITE(at__semaphore_acquire_site, "at_semaphore_acquire",
              at__semaphore_acquire_poll, at__semaphore_acquire_drop);

at_frame *at_semaphore_acquire(at_semaphore_acquire_fut *f, at_semaphore *s,
                               uint64_t n)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    f->holder_id = 0;
    at_frame *fr = at__leaf_init(&f->leaf, &at__semaphore_acquire_site,
                                 AT_RES_SEMAPHORE, s);
    f->leaf.wait.detail[0] = n;
    return fr;
}

int at_semaphore_try_acquire(at_semaphore *s, uint64_t n)
{
    int rc = AT_EAGAIN;
    uint64_t id = at_current_task_id();
    at__spin_lock(&s->lock);
    if (!s->head && s->permits >= n) {
        s->permits -= n;
        at__holders_add(s->holders, &s->untracked, id, n);
        rc = 0;
    }
    at__spin_unlock(&s->lock);
    return rc;
}

void at_semaphore_release(at_semaphore *s, uint64_t n)
{
    uint64_t id, parent;
    at__holder_who(&id, &parent);
    at__spin_lock(&s->lock);
    at__holders_take(s->holders, &s->untracked, id, parent, n);
    at__semaphore_add_locked(s, n);
    at__semaphore_grant_locked(s);
    at__spin_unlock(&s->lock);
}

/* ====================================================================== */
/* Notify                                                                 */
/* ====================================================================== */

/* A waiter granted by notify_one carries how = 1, by notify_all how = 0:
 * a cancelled waiter passes a notify_one on, never a notify_all. */
enum { AT__NOTIFIED_ALL = 0, AT__NOTIFIED_ONE = 1 };

void at_notify_init(at_notify *n)
{
    memset(n, 0, sizeof *n);
    n->magic = AT_NOTIFY_MAGIC;
}

AT_NOINLINE static at_poll_result at__notify_wait_poll(at_frame *frame,
                                                       at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_notify_wait_fut *f = (at_notify_wait_fut *)frame;
    at_notify *n = (at_notify *)f->leaf.wait.object;

    if (f->waiter.queued)
        return at__waiter_granted(&n->lock, &f->waiter) ? AT_READY
                                                                    : AT_PENDING;
    at__spin_lock(&n->lock);
    if (n->permit) {
        n->permit = 0;
        at__spin_unlock(&n->lock);
        return AT_READY;
    }
    at__waiter_enqueue(&n->head, &n->tail, &f->waiter, cx);
    at__count_up(&n->waiters);
    f->waiter.queued = 1;
    at__spin_unlock(&n->lock);
    at__leaf_waiting(&f->leaf);
    return AT_PENDING;
}

static void at__notify_one(at_notify *n, int count);

/* Cancelled: leave the queue; a notify_one received but never seen goes to
 * the next waiter (or becomes the stored permit). */
static void at__notify_wait_drop(at_frame *frame)
{
    at_notify_wait_fut *f = (at_notify_wait_fut *)frame;
    at_notify *n = (at_notify *)f->leaf.wait.object;
    int forward = 0;

    if (!f->waiter.queued)
        return;
    at__spin_lock(&n->lock);
    if (f->waiter.state == AT__W_QUEUED) {
        at__waitq_remove(&n->head, &n->tail, &f->waiter);
        at__count_down(&n->waiters);
    } else if (f->waiter.state == AT__W_GRANTED) {
        forward = f->waiter.how == AT__NOTIFIED_ONE;
    }
    f->waiter.queued = 0;
    at__spin_unlock(&n->lock);
    f->waiter.waker.task = NULL;
    if (forward)
        at__notify_one(n, 0);
}

AT__LEAF_SITE(at__notify_wait_site, "at_notify_wait", at__notify_wait_poll,
              at__notify_wait_drop);

at_frame *at_notify_wait(at_notify_wait_fut *f, at_notify *n)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    return at__leaf_init(&f->leaf, &at__notify_wait_site, AT_RES_NOTIFY, n);
}

/* Lock held: pop and grant the first waiter; 0 if nobody waits. */
static int at__notify_pop(at_notify *n, uint64_t how)
{
    at_waiter *w = at__waitq_pop(&n->head, &n->tail);
    if (!w)
        return 0;
    at__count_down(&n->waiters);
    w->how = (uint16_t)how;
    at__waiter_grant(w);
    return 1;
}

/* notify_one; a forwarded one (a cancelled waiter passing on what it got)
 * is not a new notify: it does not count. */
static void at__notify_one(at_notify *n, int count)
{
    uint64_t id = count ? at_current_task_id() : 0;
    at__spin_lock(&n->lock);
    if (count) {
        n->last_notifier = id;
        n->notified++;
    }
    if (!at__notify_pop(n, AT__NOTIFIED_ONE))
        n->permit = 1;
    at__spin_unlock(&n->lock);
}

void at_notify_one(at_notify *n)
{
    at__notify_one(n, 1);
}

/* Wakes the waiters present when it is called (all under one hold of the
 * lock, so a task that waits again at once cannot keep it looping). */
void at_notify_all(at_notify *n)
{
    uint64_t id = at_current_task_id();
    at__spin_lock(&n->lock);
    n->last_notifier = id;
    n->notified++;
    while (at__notify_pop(n, AT__NOTIFIED_ALL))
        ;
    at__spin_unlock(&n->lock);
}
