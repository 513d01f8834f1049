/* sync.c - the async mutex (FIFO, direct hand-off, records its owner task),
 * the counting semaphore (FIFO) and notify.
 *
 * Each object guards its state with its private spin lock.  A waiting leaf
 * puts an at_waiter on the object's queue; whoever grants it (unlock,
 * release, notify) pops the waiter, moves its waker out and marks it
 * granted, all under the lock, then wakes the waker after unlocking.  Once a
 * waiter is marked granted its memory may vanish at any moment (its task can
 * be polled on another thread), so nothing touches it after the unlock.
 * Wake-ups of several waiters are done one at a time (lock, pop one, unlock,
 * wake) for the same reason. */
#include <stdlib.h>

#include "internal.h"

/* at_waiter.state values (abi.h). */
enum { AT__W_QUEUED = 0, AT__W_GRANTED = 1, AT__W_CLOSED = 2 };

/* Put the current task on a wait queue; the waiter keeps a waker clone. */
static void at__waiter_enqueue(at_waiter **head, at_waiter **tail,
                               at_waiter *w, at_context *cx, uint64_t want)
{
    w->waker = at_waker_clone(cx);
    w->task_id = at_current_task_id();
    w->want = want;
    w->state = AT__W_QUEUED;
    at__waitq_push(head, tail, w);
}

/* Mark a popped waiter granted and move its waker out (lock held).  The
 * caller wakes the returned waker after unlocking. */
static at_waker at__waiter_grant(at_waiter *w)
{
    at_waker wk = w->waker;
    w->waker.task = NULL;
    w->state = AT__W_GRANTED;
    return wk;
}

static void at__wake(at_waker *wk)
{
    if (wk->task)
        at_waker_wake(wk);
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

/* Lock held: hand the mutex to the first waiter (it becomes the owner at
 * once, so nobody can overtake it) or release it.  Returns the waker to
 * wake after unlocking, empty if nobody waited. */
static at_waker at__mutex_pass(at_mutex *m)
{
    at_waker wk = {0};
    at_waiter *w = at__waitq_pop(&m->head, &m->tail);
    if (!w) {
        m->owner = NULL;
        m->owner_id = 0;
        m->locked = 0;
        return wk;
    }
    m->waiters--;
    m->owner_id = w->task_id;
    m->owner = w->waker.task;
    return at__waiter_grant(w);
}

AT_NOINLINE static at_poll_result at__mutex_lock_poll(at_frame *frame,
                                                      at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_mutex_lock_fut *f = (at_mutex_lock_fut *)frame;
    at_mutex *m = f->mutex;

    at__spin_lock(&m->lock);
    if (f->queued) {
        int granted = f->waiter.state == AT__W_GRANTED;
        if (granted)
            f->queued = 0;
        at__spin_unlock(&m->lock);
        return granted ? AT_READY : AT_PENDING;
    }
    if (!m->locked && !m->head) {
        m->locked = 1;
        m->owner_id = at_current_task_id();
        m->owner = at_task_current();
        at__spin_unlock(&m->lock);
        return AT_READY;
    }
    at__waiter_enqueue(&m->head, &m->tail, &f->waiter, cx, 0);
    m->waiters++;
    f->queued = 1;
    at__spin_unlock(&m->lock);
    at__leaf_waiting(&f->leaf);
    return AT_PENDING;
}

/* Cancelled: leave the queue, or pass on a lock granted but never seen. */
static void at__mutex_lock_drop(at_frame *frame)
{
    at_mutex_lock_fut *f = (at_mutex_lock_fut *)frame;
    at_mutex *m = f->mutex;
    at_waker wk = {0};

    if (!f->queued)
        return;
    at__spin_lock(&m->lock);
    if (f->waiter.state == AT__W_QUEUED) {
        at__waitq_remove(&m->head, &m->tail, &f->waiter);
        m->waiters--;
    } else if (f->waiter.state == AT__W_GRANTED) {
        wk = at__mutex_pass(m);
    }
    f->queued = 0;
    at__spin_unlock(&m->lock);
    at_waker_drop(&f->waiter.waker);
    at__wake(&wk);
}

AT__LEAF_SITE(at__mutex_lock_site, "at_mutex_lock", at__mutex_lock_poll,
              at__mutex_lock_drop);

at_frame *at_mutex_lock(at_mutex_lock_fut *f, at_mutex *m)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    f->mutex = m;
    f->queued = 0;
    f->pad = 0;
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
    at_waker wk = at__mutex_pass(m);
    at__spin_unlock(&m->lock);
    at__wake(&wk);
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

/* Grant queued requests in FIFO order while the head one fits; one waiter
 * per lock round (see the top of the file). */
static void at__semaphore_grant(at_semaphore *s)
{
    for (;;) {
        at__spin_lock(&s->lock);
        at_waiter *w = s->head;
        if (!w || w->want > s->permits) {
            at__spin_unlock(&s->lock);
            return;
        }
        at__waitq_remove(&s->head, &s->tail, w);
        s->waiters--;
        s->permits -= w->want;
        at_waker wk = at__waiter_grant(w);
        at__spin_unlock(&s->lock);
        at__wake(&wk);
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
    at_semaphore *s = f->sem;
    uint64_t n = f->leaf.wait.detail[0];

    at__spin_lock(&s->lock);
    if (f->queued) {
        int granted = f->waiter.state == AT__W_GRANTED;
        if (granted)
            f->queued = 0;
        at__spin_unlock(&s->lock);
        return granted ? AT_READY : AT_PENDING;
    }
    if (!s->head && s->permits >= n) {
        s->permits -= n;
        at__spin_unlock(&s->lock);
        return AT_READY;
    }
    at__waiter_enqueue(&s->head, &s->tail, &f->waiter, cx, n);
    s->waiters++;
    f->queued = 1;
    at__spin_unlock(&s->lock);
    at__leaf_waiting(&f->leaf);
    return AT_PENDING;
}

/* Cancelled: leave the queue (which may unblock smaller requests behind
 * it), or give back permits granted but never seen. */
static void at__semaphore_acquire_drop(at_frame *frame)
{
    at_semaphore_acquire_fut *f = (at_semaphore_acquire_fut *)frame;
    at_semaphore *s = f->sem;

    if (!f->queued)
        return;
    at__spin_lock(&s->lock);
    if (f->waiter.state == AT__W_QUEUED) {
        at__waitq_remove(&s->head, &s->tail, &f->waiter);
        s->waiters--;
    } else if (f->waiter.state == AT__W_GRANTED) {
        at__semaphore_add_locked(s, f->waiter.want);
    }
    f->queued = 0;
    at__spin_unlock(&s->lock);
    at_waker_drop(&f->waiter.waker);
    at__semaphore_grant(s);
}

AT__LEAF_SITE(at__semaphore_acquire_site, "at_semaphore_acquire",
              at__semaphore_acquire_poll, at__semaphore_acquire_drop);

at_frame *at_semaphore_acquire(at_semaphore_acquire_fut *f, at_semaphore *s,
                               uint64_t n)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    f->sem = s;
    f->queued = 0;
    f->pad = 0;
    at_frame *fr = at__leaf_init(&f->leaf, &at__semaphore_acquire_site,
                                 AT_RES_SEMAPHORE, s);
    f->leaf.wait.detail[0] = n;
    return fr;
}

int at_semaphore_try_acquire(at_semaphore *s, uint64_t n)
{
    int rc = AT_EAGAIN;
    at__spin_lock(&s->lock);
    if (!s->head && s->permits >= n) {
        s->permits -= n;
        rc = 0;
    }
    at__spin_unlock(&s->lock);
    return rc;
}

void at_semaphore_release(at_semaphore *s, uint64_t n)
{
    at__spin_lock(&s->lock);
    at__semaphore_add_locked(s, n);
    at__spin_unlock(&s->lock);
    at__semaphore_grant(s);
}

/* ====================================================================== */
/* Notify                                                                 */
/* ====================================================================== */

/* A waiter granted by notify_one carries want = 1, by notify_all want = 0:
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
    at_notify *n = f->notify;

    at__spin_lock(&n->lock);
    if (f->queued) {
        int granted = f->waiter.state == AT__W_GRANTED;
        if (granted)
            f->queued = 0;
        at__spin_unlock(&n->lock);
        return granted ? AT_READY : AT_PENDING;
    }
    if (n->permit) {
        n->permit = 0;
        at__spin_unlock(&n->lock);
        return AT_READY;
    }
    at__waiter_enqueue(&n->head, &n->tail, &f->waiter, cx, 0);
    n->waiters++;
    f->queued = 1;
    at__spin_unlock(&n->lock);
    at__leaf_waiting(&f->leaf);
    return AT_PENDING;
}

/* Cancelled: leave the queue; a notify_one received but never seen goes to
 * the next waiter (or becomes the stored permit). */
static void at__notify_wait_drop(at_frame *frame)
{
    at_notify_wait_fut *f = (at_notify_wait_fut *)frame;
    at_notify *n = f->notify;
    int forward = 0;

    if (!f->queued)
        return;
    at__spin_lock(&n->lock);
    if (f->waiter.state == AT__W_QUEUED) {
        at__waitq_remove(&n->head, &n->tail, &f->waiter);
        n->waiters--;
    } else if (f->waiter.state == AT__W_GRANTED) {
        forward = f->waiter.want == AT__NOTIFIED_ONE;
    }
    f->queued = 0;
    at__spin_unlock(&n->lock);
    at_waker_drop(&f->waiter.waker);
    if (forward)
        at_notify_one(n);
}

AT__LEAF_SITE(at__notify_wait_site, "at_notify_wait", at__notify_wait_poll,
              at__notify_wait_drop);

at_frame *at_notify_wait(at_notify_wait_fut *f, at_notify *n)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    f->notify = n;
    f->queued = 0;
    f->pad = 0;
    return at__leaf_init(&f->leaf, &at__notify_wait_site, AT_RES_NOTIFY, n);
}

/* Lock held: pop and grant the first waiter; 0 if nobody waits. */
static int at__notify_pop(at_notify *n, uint64_t how, at_waker *wk)
{
    at_waiter *w = at__waitq_pop(&n->head, &n->tail);
    if (!w)
        return 0;
    n->waiters--;
    w->want = how;
    *wk = at__waiter_grant(w);
    return 1;
}

void at_notify_one(at_notify *n)
{
    at_waker wk = {0};
    at__spin_lock(&n->lock);
    if (!at__notify_pop(n, AT__NOTIFIED_ONE, &wk))
        n->permit = 1;
    at__spin_unlock(&n->lock);
    at__wake(&wk);
}

/* Wakes the waiters present when it is called: at most that many, so a task
 * that waits again at once (on another thread) cannot keep it looping. */
void at_notify_all(at_notify *n)
{
    at__spin_lock(&n->lock);
    uint32_t count = n->waiters;
    at__spin_unlock(&n->lock);
    for (uint32_t i = 0; i < count; i++) {
        at_waker wk = {0};
        at__spin_lock(&n->lock);
        int found = at__notify_pop(n, AT__NOTIFIED_ALL, &wk);
        at__spin_unlock(&n->lock);
        if (!found)
            return;
        at__wake(&wk);
    }
}
