/* channel.c - multi-producer single-consumer channels (bounded and
 * unbounded) and oneshot channels.
 *
 * A channel is one heap record (at_chan) with a ring buffer of fixed-size
 * messages that grows by doubling (up to the capacity when bounded), and two
 * wait queues.  A full bounded channel queues senders in FIFO order; when
 * the receiver takes a message it moves the first queued sender's message
 * into the freed slot and completes that send (direct hand-off, so a queued
 * sender is never overtaken).  A send into a channel whose receiver waits
 * (the buffer is then empty) copies the message straight into that
 * receive's output (direct hand-off the other way); a receive dropped
 * before it saw such a message gives it back, in front of the buffer.
 *
 * Waiters hold no reference on their task.  A queued waiter's task cannot
 * go away: its future can only leave the queue under the channel's spin
 * lock (drop hook) or by seeing its waiter marked.  So whoever releases a
 * waiter does it all under the lock: it delivers what there is to deliver,
 * wakes the task, then marks the waiter granted or closed with a release
 * store, and touches neither afterwards.  A granted send or receive sees
 * the mark (acquire) and completes without taking the lock.  The channel
 * is freed by whoever drops the last reference (senders + receiver),
 * decided under the lock. */
#include <stdlib.h>

#include "sync/holders.h"

enum { AT__W_QUEUED = 0, AT__W_GRANTED = 1, AT__W_CLOSED = 2 };

#define AT__CHAN_FIRST_ALLOC 16u

/* Queue the polled task (lock held).  No reference: see the top. */
static void at__waiter_enqueue(at_waiter **head, at_waiter **tail,
                               at_waiter *w, at_context *cx)
{
    w->waker.task = cx->task;
    __atomic_store_n(&w->state, AT__W_QUEUED, __ATOMIC_RELAXED);
    at__waitq_push(head, tail, w);
}

/* Wake a dequeued waiter's task, then mark it `state` (lock held).  After
 * the mark the waiter and its task may vanish at any moment. */
static inline __attribute__((always_inline)) void at__waiter_finish(at_waiter *w,
                                                                     int state)
{
    at_task *t = w->waker.task;
    w->waker.task = NULL;
    if (t)
        at__task_wake(t);
    __atomic_store_n(&w->state, state, __ATOMIC_RELEASE);
}

/* Pop the first waiter of a queue, wake it and mark it `state` (lock
 * held).  0 if the queue is empty. */
static int at__waiter_release(at_waiter **head, at_waiter **tail, int state)
{
    at_waiter *w = at__waitq_pop(head, tail);
    if (!w)
        return 0;
    at__waiter_finish(w, state);
    return 1;
}

/* The state of our own waiter, as its releaser last marked it. */
static inline int at__waiter_state(const at_waiter *w)
{
    return __atomic_load_n(&w->state, __ATOMIC_ACQUIRE);
}

/* ====================================================================== */
/* The ring buffer (all with c->lock held)                                */
/* ====================================================================== */

/* Copy one message: small common sizes without a call. */
static inline void at__copy_msg(void *dst, const void *src, size_t n)
{
    switch (n) {
    case 0: break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    case 16: memcpy(dst, src, 16); break;
    default: memcpy(dst, src, n); break;
    }
}

static void at__chan_put(at_chan *c, const void *msg)
{
    if (c->elem_size) {
        size_t slot = c->head + c->len; /* head < cap_alloc, len < cap_alloc */
        if (slot >= c->cap_alloc)
            slot -= c->cap_alloc;
        at__copy_msg(c->buf + slot * c->elem_size, msg, c->elem_size);
    }
    c->len++;
}

/* Put a message back in front of the others (len < cap_alloc). */
static void at__chan_put_front(at_chan *c, const void *msg)
{
    if (c->elem_size) {
        c->head = c->head ? c->head - 1 : c->cap_alloc - 1;
        at__copy_msg(c->buf + c->head * c->elem_size, msg, c->elem_size);
    }
    c->len++;
}

static void at__chan_take(at_chan *c, void *out)
{
    if (c->elem_size) {
        at__copy_msg(out, c->buf + c->head * c->elem_size, c->elem_size);
        if (++c->head == c->cap_alloc)
            c->head = 0;
    }
    c->len--;
}

/* Double the buffer (bounded: up to the capacity, unless `beyond`).  Drops
 * the lock around malloc; the caller re-checks everything afterwards.  0 or
 * AT_ENOMEM. */
static int at__chan_grow(at_chan *c, int beyond)
{
    size_t old = c->cap_alloc;
    size_t want = old ? old * 2 : AT__CHAN_FIRST_ALLOC;
    if (!beyond && !(c->flags & AT_CHAN_UNBOUNDED) && want > c->capacity)
        want = c->capacity;
    if (want <= old || want > SIZE_MAX / c->elem_size)
        return AT_ENOMEM;

    at__spin_unlock(&c->lock);
    unsigned char *nb = malloc(want * c->elem_size);
    at__spin_lock(&c->lock);
    if (!nb)
        return AT_ENOMEM;
    if (c->cap_alloc != old) { /* grown meanwhile by another sender */
        free(nb);
        return 0;
    }
    for (size_t i = 0; i < c->len; i++)
        memcpy(nb + i * c->elem_size,
               c->buf + ((c->head + i) % old) * c->elem_size, c->elem_size);
    free(c->buf);
    c->buf = nb;
    c->head = 0;
    c->cap_alloc = want;
    return 0;
}

/* A receiver waits (so the buffer is empty): give it the message
 * directly (lock held).  It finds the message in its `out` and its waiter
 * granted, and completes without taking the lock. */
static inline __attribute__((always_inline)) void at__chan_hand_off(at_chan *c,
                                                                     const void *msg)
{
    at_waiter *w = at__waitq_pop(&c->recv_head, &c->recv_tail);
    c->recv_waiters--;
    at_chan_recv_fut *rf =
        (at_chan_recv_fut *)((char *)w - offsetof(at_chan_recv_fut, waiter));
    at__copy_msg(rf->out, msg, c->elem_size);
    at__waiter_finish(w, AT__W_GRANTED);
}

/* Deliver a message if the channel accepts it now: 0, AT_EAGAIN (full),
 * AT_ECLOSED, or AT_ENOMEM.  A waiting receiver gets it directly. */
static int at__chan_push(at_chan *c, const void *msg)
{
    for (;;) {
        if (c->flags & AT_CHAN_CLOSED)
            return AT_ECLOSED;
        if (c->recv_head) { /* receivers wait only on an empty buffer */
            at__chan_hand_off(c, msg);
            return 0;
        }
        if (!(c->flags & AT_CHAN_UNBOUNDED) && c->len >= c->capacity)
            return AT_EAGAIN;
        if (c->len < c->cap_alloc)
            break;
        int rc = at__chan_grow(c, 0);
        if (rc)
            return rc;
    }
    at__chan_put(c, msg);
    return 0;
}

/* Take a message (c->len > 0), then move the first queued sender's message
 * into the freed slot and complete that send. */
static void at__chan_pop(at_chan *c, void *out)
{
    at__chan_take(c, out);
    at_waiter *w = c->send_head;
    if (!w)
        return;
    at_chan_send_fut *sf =
        (at_chan_send_fut *)((char *)w - offsetof(at_chan_send_fut, waiter));
    at__chan_put(c, sf->msg);
    at__waiter_release(&c->send_head, &c->send_tail, AT__W_GRANTED);
    c->send_waiters--;
}

/* ====================================================================== */
/* Creation, references, closing                                          */
/* ====================================================================== */

static at_chan *at__chan_new(size_t elem_size, size_t capacity, uint32_t flags,
                             int *err)
{
    at_chan *c = calloc(1, sizeof *c);
    if (!c)
        goto fail;
    uint64_t id, parent;
    at__holder_who(&id, &parent);
    c->flags = flags;
    c->capacity = capacity;
    c->senders = 1;
    c->rx_task_id = id; /* the creator holds the receiver first */
    at__holders_add(c->tx_holders, &c->tx_untracked, id, 1);
    c->tx_last = id;
    c->refs = 2;
    c->elem_size = elem_size;
    if (elem_size == 0) {
        c->cap_alloc = SIZE_MAX; /* nothing to store: only count */
    } else {
        size_t first = AT__CHAN_FIRST_ALLOC;
        if (!(flags & AT_CHAN_UNBOUNDED) && capacity < first)
            first = capacity;
        if (first > SIZE_MAX / elem_size)
            goto fail;
        c->buf = malloc(first * elem_size);
        if (!c->buf)
            goto fail;
        c->cap_alloc = first;
    }
    c->magic = AT_CHAN_MAGIC;
    if (err)
        *err = 0;
    return c;
fail:
    free(c);
    if (err)
        *err = AT_ENOMEM;
    return NULL;
}

at_chan *at_chan_new_bounded(size_t elem_size, size_t capacity, int *err)
{
    if (capacity == 0) {
        if (err)
            *err = AT_EINVAL;
        return NULL;
    }
    return at__chan_new(elem_size, capacity, 0, err);
}

at_chan *at_chan_new_unbounded(size_t elem_size, int *err)
{
    return at__chan_new(elem_size, 0, AT_CHAN_UNBOUNDED, err);
}

static void at__chan_free(at_chan *c)
{
    c->magic = AT_DEAD_MAGIC;
    free(c->buf);
    free(c);
}

/* Lock held: wake every waiter of one queue with `state`. */
static void at__chan_wake_all(at_waiter **head, at_waiter **tail,
                              uint32_t *count, int state)
{
    while (at__waiter_release(head, tail, state))
        (*count)--;
}

/* Lock held on entry; drops one reference, unlocks, frees if it was the
 * last.  Our reference kept the channel alive while waking waiters. */
static void at__chan_unref_unlock(at_chan *c)
{
    int last = --c->refs == 0;
    at__spin_unlock(&c->lock);
    if (last)
        at__chan_free(c);
}

void at_chan_sender_clone(at_chan *c)
{
    uint64_t id = at_current_task_id();
    at__spin_lock(&c->lock);
    c->senders++;
    at__holders_add(c->tx_holders, &c->tx_untracked, id, 1);
    c->refs++;
    at__spin_unlock(&c->lock);
}

void at_chan_sender_drop(at_chan *c)
{
    uint64_t id, parent;
    at__holder_who(&id, &parent);
    at__spin_lock(&c->lock);
    if (c->senders == 0) { /* more drops than references: ignore */
        at__spin_unlock(&c->lock);
        return;
    }
    at__holders_take(c->tx_holders, &c->tx_untracked, id, parent, 1);
    c->tx_last = UINT64_MAX; /* a row may be gone: look again at the next send */
    if (--c->senders == 0)
        at__chan_wake_all(&c->recv_head, &c->recv_tail, &c->recv_waiters,
                          AT__W_CLOSED);
    at__chan_unref_unlock(c);
}

void at_chan_close(at_chan *c)
{
    at__spin_lock(&c->lock);
    c->flags |= AT_CHAN_CLOSED;
    at__chan_wake_all(&c->send_head, &c->send_tail, &c->send_waiters,
                      AT__W_CLOSED);
    at__chan_wake_all(&c->recv_head, &c->recv_tail, &c->recv_waiters,
                      AT__W_CLOSED);
    at__spin_unlock(&c->lock);
}

void at_chan_receiver_drop(at_chan *c)
{
    at__spin_lock(&c->lock);
    if (c->flags & AT_CHAN_RX_DROPPED) {
        at__spin_unlock(&c->lock);
        return;
    }
    c->flags |= AT_CHAN_CLOSED | AT_CHAN_RX_DROPPED;
    at__chan_wake_all(&c->send_head, &c->send_tail, &c->send_waiters,
                      AT__W_CLOSED);
    at__chan_wake_all(&c->recv_head, &c->recv_tail, &c->recv_waiters,
                      AT__W_CLOSED);
    at__chan_unref_unlock(c);
}

/* ====================================================================== */
/* Send                                                                   */
/* ====================================================================== */

/* Lock held: task t sends, so it holds a sender handle: give it a row if it
 * has none (one compare when it sent last, as in a loop of sends). */
static inline void at__chan_sender_seen(at_chan *c, const at_task *t)
{
    uint64_t id = t ? t->id : 0;
    if (id == c->tx_last)
        return;
    at__holders_touch(c->tx_holders, &c->tx_untracked, id, t ? t->parent_id : 0,
                      c->senders);
    c->tx_last = id;
}

/* A queued send polled again.  Granted: the receiver moved the message in.
 * Closed: never sent.  Either way the waiter has left the queue.  Still
 * queued as far as we can see: a releaser may be between its wake and its
 * mark, so look again under the lock. */
AT_NOINLINE static at_poll_result at__chan_send_queued(at_chan_send_fut *f)
{
    at_chan *c = f->chan;
    int state = at__waiter_state(&f->waiter);
    if (state == AT__W_QUEUED) {
        at__spin_lock(&c->lock);
        state = f->waiter.state;
        at__spin_unlock(&c->lock);
        if (state == AT__W_QUEUED)
            return AT_PENDING;
    }
    f->queued = 0;
    f->status = state == AT__W_GRANTED ? 0 : AT_ECLOSED;
    return AT_READY;
}

/* A first send that cannot hand its message to a waiting receiver (lock
 * held on entry, released here). */
AT_NOINLINE static at_poll_result at__chan_send_buffer(at_chan_send_fut *f,
                                                       at_context *cx)
{
    at_chan *c = f->chan;
    int rc = at__chan_push(c, f->msg);
    if (rc == AT_EAGAIN) {
        at__waiter_enqueue(&c->send_head, &c->send_tail, &f->waiter, cx);
        c->send_waiters++;
        f->queued = 1;
        at__spin_unlock(&c->lock);
        at__leaf_waiting(&f->leaf);
        return AT_PENDING;
    }
    at__spin_unlock(&c->lock);
    f->status = rc;
    return AT_READY;
}

AT_NOINLINE static at_poll_result at__chan_send_poll(at_frame *frame,
                                                     at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_chan_send_fut *f = (at_chan_send_fut *)frame;
    at_chan *c = f->chan;

    if (__builtin_expect(f->queued, 0))
        return at__chan_send_queued(f);
    at__spin_lock(&c->lock);
    at__chan_sender_seen(c, cx->task);
    /* A receiver waits (so the buffer is empty): straight into its hands. */
    if (c->recv_head && !(c->flags & AT_CHAN_CLOSED)) {
        at__chan_hand_off(c, f->msg);
        at__spin_unlock(&c->lock);
        f->status = 0;
        return AT_READY;
    }
    return at__chan_send_buffer(f, cx);
}

/* Cancelled: leave the queue.  A send granted but never seen was delivered;
 * there is nothing to take back. */
static void at__chan_send_drop(at_frame *frame)
{
    at_chan_send_fut *f = (at_chan_send_fut *)frame;
    at_chan *c = f->chan;

    if (!f->queued)
        return;
    if (at__waiter_state(&f->waiter) == AT__W_QUEUED) {
        at__spin_lock(&c->lock);
        if (f->waiter.state == AT__W_QUEUED) {
            at__waitq_remove(&c->send_head, &c->send_tail, &f->waiter);
            c->send_waiters--;
        }
        at__spin_unlock(&c->lock);
    }
    f->queued = 0;
    f->waiter.waker.task = NULL;
}

AT__LEAF_SITE(at__chan_send_site, "at_chan_send", at__chan_send_poll,
              at__chan_send_drop);

at_frame *at_chan_send(at_chan_send_fut *f, at_chan *c, const void *msg)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    f->chan = c;
    f->msg = msg;
    f->status = 0;
    f->queued = 0;
    return at__leaf_init(&f->leaf, &at__chan_send_site, AT_RES_CHAN_SEND, c);
}

int at_chan_try_send(at_chan *c, const void *msg)
{
    at_task *t = at_task_current();
    at__spin_lock(&c->lock);
    at__chan_sender_seen(c, t);
    int rc = at__chan_push(c, msg);
    at__spin_unlock(&c->lock);
    return rc;
}

/* ====================================================================== */
/* Receive                                                                */
/* ====================================================================== */

/* Lock held: take a message if there is one (0), else AT_ECLOSED when no
 * message can come any more, else AT_EAGAIN. */
static int at__chan_recv_locked(at_chan *c, void *out)
{
    if (c->len) {
        at__chan_pop(c, out);
        return 0;
    }
    if (c->senders == 0 || (c->flags & AT_CHAN_CLOSED))
        return AT_ECLOSED;
    return AT_EAGAIN;
}

/* A receive not handed a message: look under the lock. */
AT_NOINLINE static at_poll_result at__chan_recv_locked_poll(at_chan_recv_fut *f,
                                                            at_context *cx)
{
    at_chan *c = f->chan;
    at__spin_lock(&c->lock);
    c->rx_task_id = cx->task ? cx->task->id : 0;
    if (f->queued && f->waiter.state != AT__W_QUEUED) {
        f->queued = 0; /* released: granted just now, or closed */
        if (f->waiter.state == AT__W_GRANTED) {
            at__spin_unlock(&c->lock);
            f->status = 0;
            return AT_READY;
        }
    }
    int rc = at__chan_recv_locked(c, f->out);
    if (rc == AT_EAGAIN) {
        if (!f->queued) {
            at__waiter_enqueue(&c->recv_head, &c->recv_tail, &f->waiter, cx);
            c->recv_waiters++;
            f->queued = 1;
        }
        at__spin_unlock(&c->lock);
        at__leaf_waiting(&f->leaf);
        return AT_PENDING;
    }
    if (f->queued) {
        at__waitq_remove(&c->recv_head, &c->recv_tail, &f->waiter);
        c->recv_waiters--;
        f->queued = 0;
    }
    at__spin_unlock(&c->lock);
    f->waiter.waker.task = NULL;
    f->status = rc;
    return AT_READY;
}

AT_NOINLINE static at_poll_result at__chan_recv_poll(at_frame *frame,
                                                     at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_chan_recv_fut *f = (at_chan_recv_fut *)frame;

    /* Handed a message: it is in f->out already (no lock). */
    if (f->queued && at__waiter_state(&f->waiter) == AT__W_GRANTED) {
        f->queued = 0;
        f->status = 0;
        return AT_READY;
    }
    return at__chan_recv_locked_poll(f, cx);
}

/* Lock held: a message handed to a receive that was dropped before it saw
 * it goes to the next waiting receive, else back in front of the buffer
 * (which may then hold one more than the capacity, until it is taken). */
static void at__chan_give_back(at_chan *c, const void *msg)
{
    for (;;) { /* growing drops the lock: look again each time */
        if (c->recv_head) {
            at__chan_hand_off(c, msg);
            return;
        }
        if (c->len < c->cap_alloc)
            break;
        if (at__chan_grow(c, 1) < 0)
            return; /* out of memory: the message is lost */
    }
    at__chan_put_front(c, msg);
}

/* Cancelled: leave the queue; a message handed over but never seen is given
 * back.  Messages stay queued for a later receive. */
static void at__chan_recv_drop(at_frame *frame)
{
    at_chan_recv_fut *f = (at_chan_recv_fut *)frame;
    at_chan *c = f->chan;

    if (!f->queued)
        return;
    if (at__waiter_state(&f->waiter) != AT__W_CLOSED) {
        at__spin_lock(&c->lock);
        if (f->waiter.state == AT__W_QUEUED) {
            at__waitq_remove(&c->recv_head, &c->recv_tail, &f->waiter);
            c->recv_waiters--;
        } else if (f->waiter.state == AT__W_GRANTED) {
            at__chan_give_back(c, f->out);
        }
        at__spin_unlock(&c->lock);
    }
    f->queued = 0;
    f->waiter.waker.task = NULL;
}

AT__LEAF_SITE(at__chan_recv_site, "at_chan_recv", at__chan_recv_poll,
              at__chan_recv_drop);

at_frame *at_chan_recv(at_chan_recv_fut *f, at_chan *c, void *out)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    f->chan = c;
    f->out = out;
    f->status = 0;
    f->queued = 0;
    return at__leaf_init(&f->leaf, &at__chan_recv_site, AT_RES_CHAN_RECV, c);
}

int at_chan_try_recv(at_chan *c, void *out)
{
    uint64_t id = at_current_task_id();
    at__spin_lock(&c->lock);
    if (id)
        c->rx_task_id = id;
    int rc = at__chan_recv_locked(c, out);
    at__spin_unlock(&c->lock);
    return rc;
}

/* ====================================================================== */
/* Oneshot                                                                */
/* ====================================================================== */

at_oneshot *at_oneshot_new(size_t elem_size)
{
    at_oneshot *o = calloc(1, sizeof *o + elem_size);
    if (!o)
        return NULL;
    o->elem_size = elem_size;
    o->refs = 2;
    o->tx_task_id = at_current_task_id();
    o->magic = AT_ONESHOT_MAGIC;
    return o;
}

/* Lock held on entry; drops one side's reference, unlocks, frees if last. */
static void at__oneshot_unref_unlock(at_oneshot *o)
{
    int last = --o->refs == 0;
    at__spin_unlock(&o->lock);
    if (last) {
        o->magic = AT_DEAD_MAGIC;
        free(o);
    }
}

/* Lock held: wake the waiting receiver, if any. */
static void at__oneshot_release_waiter(at_oneshot *o)
{
    at_waiter *w = o->waiter;
    if (w) {
        o->waiter = NULL;
        at__waiter_finish(w, AT__W_GRANTED);
    }
}

int at_oneshot_send(at_oneshot *o, const void *value)
{
    at__spin_lock(&o->lock);
    if (o->flags & (AT_ONESHOT_SENT | AT_ONESHOT_TX_DROPPED)) {
        at__spin_unlock(&o->lock);
        return AT_EINVAL;
    }
    if (o->flags & AT_ONESHOT_RX_DROPPED) {
        o->flags |= AT_ONESHOT_TX_DROPPED;
        at__oneshot_unref_unlock(o);
        return AT_ECLOSED;
    }
    if (o->elem_size)
        memcpy(o->value, value, o->elem_size);
    o->flags |= AT_ONESHOT_SENT;
    at__oneshot_release_waiter(o);
    at__oneshot_unref_unlock(o);
    return 0;
}

void at_oneshot_sender_drop(at_oneshot *o)
{
    at__spin_lock(&o->lock);
    if (o->flags & (AT_ONESHOT_SENT | AT_ONESHOT_TX_DROPPED)) {
        at__spin_unlock(&o->lock); /* already consumed by a send */
        return;
    }
    o->flags |= AT_ONESHOT_TX_DROPPED;
    at__oneshot_release_waiter(o);
    at__oneshot_unref_unlock(o);
}

void at_oneshot_receiver_drop(at_oneshot *o)
{
    at__spin_lock(&o->lock);
    if (o->flags & AT_ONESHOT_RX_DROPPED) {
        at__spin_unlock(&o->lock);
        return;
    }
    o->flags |= AT_ONESHOT_RX_DROPPED;
    at__oneshot_unref_unlock(o);
}

AT_NOINLINE static at_poll_result at__oneshot_recv_poll(at_frame *frame,
                                                        at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_oneshot_recv_fut *f = (at_oneshot_recv_fut *)frame;
    at_oneshot *o = f->oneshot;

    at__spin_lock(&o->lock);
    o->rx_task_id = at_current_task_id();
    if (o->flags & AT_ONESHOT_RX_DROPPED) { /* receiver already consumed */
        at__spin_unlock(&o->lock);
        f->status = AT_EINVAL;
        return AT_READY;
    }
    if (o->flags & (AT_ONESHOT_SENT | AT_ONESHOT_TX_DROPPED)) {
        if (o->waiter == &f->waiter)
            o->waiter = NULL;
        f->queued = 0;
        if (o->flags & AT_ONESHOT_SENT) {
            if (o->elem_size)
                memcpy(f->out, o->value, o->elem_size);
            f->status = 0;
        } else {
            f->status = AT_ECLOSED;
        }
        o->flags |= AT_ONESHOT_RX_DROPPED;
        at__oneshot_unref_unlock(o);
        f->waiter.waker.task = NULL;
        return AT_READY;
    }
    if (o->waiter && o->waiter != &f->waiter) { /* a second receive */
        at__spin_unlock(&o->lock);
        f->status = AT_EINVAL;
        return AT_READY;
    }
    if (!o->waiter) {
        f->waiter.waker.task = cx->task; /* no reference: see the top */
        __atomic_store_n(&f->waiter.state, AT__W_QUEUED, __ATOMIC_RELAXED);
        o->waiter = &f->waiter;
        f->queued = 1;
    }
    at__spin_unlock(&o->lock);
    at__leaf_waiting(&f->leaf);
    return AT_PENDING;
}

/* Cancelled: stop waiting.  The receiver side stays held (drop it with
 * at_oneshot_receiver_drop). */
static void at__oneshot_recv_drop(at_frame *frame)
{
    at_oneshot_recv_fut *f = (at_oneshot_recv_fut *)frame;
    at_oneshot *o = f->oneshot;

    if (!f->queued)
        return;
    at__spin_lock(&o->lock);
    if (o->waiter == &f->waiter)
        o->waiter = NULL;
    f->queued = 0;
    at__spin_unlock(&o->lock);
    f->waiter.waker.task = NULL;
}

AT__LEAF_SITE(at__oneshot_recv_site, "at_oneshot_recv", at__oneshot_recv_poll,
              at__oneshot_recv_drop);

at_frame *at_oneshot_recv(at_oneshot_recv_fut *f, at_oneshot *o, void *out)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    f->oneshot = o;
    f->out = out;
    f->status = 0;
    f->queued = 0;
    return at__leaf_init(&f->leaf, &at__oneshot_recv_site, AT_RES_ONESHOT, o);
}
