/* channel.c - multi-producer single-consumer channels (bounded and
 * unbounded) and oneshot channels.
 *
 * A channel is one heap record (at_chan) with a ring buffer of fixed-size
 * messages that grows by doubling (up to the capacity when bounded), and two
 * wait queues.  A full bounded channel queues senders in FIFO order; when
 * the receiver takes a message it moves the first queued sender's message
 * into the freed slot and completes that send (direct hand-off, so a queued
 * sender is never overtaken).  A send into a channel whose receiver waits
 * wakes the receiver, which takes the message on its next poll.
 *
 * Like the primitives of sync.c, a waiter is marked granted or closed under
 * the channel's spin lock with its waker moved out, and woken after the
 * unlock; several waiters are woken one per lock round.  The channel is
 * freed by whoever drops the last reference (senders + receiver), decided
 * under the lock. */
#include <stdlib.h>

#include "internal.h"

enum { AT__W_QUEUED = 0, AT__W_GRANTED = 1, AT__W_CLOSED = 2 };

#define AT__CHAN_FIRST_ALLOC 16u

static void at__wake(at_waker *wk)
{
    if (wk->task)
        at_waker_wake(wk);
}

static void at__waiter_enqueue(at_waiter **head, at_waiter **tail,
                               at_waiter *w, at_context *cx)
{
    w->waker = at_waker_clone(cx);
    w->task_id = at_current_task_id();
    w->want = 0;
    w->state = AT__W_QUEUED;
    at__waitq_push(head, tail, w);
}

/* Pop the first waiter of a queue and mark it `state`, moving its waker to
 * *wk (lock held).  0 if the queue is empty. */
static int at__waiter_release(at_waiter **head, at_waiter **tail, int state,
                              at_waker *wk)
{
    at_waiter *w = at__waitq_pop(head, tail);
    if (!w)
        return 0;
    *wk = w->waker;
    w->waker.task = NULL;
    w->state = state;
    return 1;
}

/* ====================================================================== */
/* The ring buffer (all with c->lock held)                                */
/* ====================================================================== */

static void at__chan_put(at_chan *c, const void *msg)
{
    if (c->elem_size) {
        size_t slot = (c->head + c->len) % c->cap_alloc;
        memcpy(c->buf + slot * c->elem_size, msg, c->elem_size);
    }
    c->len++;
}

static void at__chan_take(at_chan *c, void *out)
{
    if (c->elem_size) {
        memcpy(out, c->buf + c->head * c->elem_size, c->elem_size);
        c->head = (c->head + 1) % c->cap_alloc;
    }
    c->len--;
}

/* Double the buffer (bounded: up to the capacity).  Drops the lock around
 * malloc; the caller re-checks everything afterwards.  0 or AT_ENOMEM. */
static int at__chan_grow(at_chan *c)
{
    size_t old = c->cap_alloc;
    size_t want = old ? old * 2 : AT__CHAN_FIRST_ALLOC;
    if (!(c->flags & AT_CHAN_UNBOUNDED) && want > c->capacity)
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

/* Queue a message if the channel accepts it now: 0, AT_EAGAIN (full),
 * AT_ECLOSED, or AT_ENOMEM.  On 0, *wk holds the receiver to wake. */
static int at__chan_push(at_chan *c, const void *msg, at_waker *wk)
{
    for (;;) {
        if (c->flags & AT_CHAN_CLOSED)
            return AT_ECLOSED;
        if (!(c->flags & AT_CHAN_UNBOUNDED) && c->len >= c->capacity)
            return AT_EAGAIN;
        if (c->len < c->cap_alloc)
            break;
        int rc = at__chan_grow(c);
        if (rc)
            return rc;
    }
    at__chan_put(c, msg);
    if (at__waiter_release(&c->recv_head, &c->recv_tail, AT__W_GRANTED, wk))
        c->recv_waiters--;
    return 0;
}

/* Take a message (c->len > 0), then move the first queued sender's message
 * into the freed slot and complete that send; *wk holds it. */
static void at__chan_pop(at_chan *c, void *out, at_waker *wk)
{
    at__chan_take(c, out);
    at_waiter *w = c->send_head;
    if (!w)
        return;
    at_chan_send_fut *sf =
        (at_chan_send_fut *)((char *)w - offsetof(at_chan_send_fut, waiter));
    at__chan_put(c, sf->msg);
    at__waiter_release(&c->send_head, &c->send_tail, AT__W_GRANTED, wk);
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
    c->flags = flags;
    c->capacity = capacity;
    c->senders = 1;
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

/* Lock held on entry and exit: wake every waiter of one queue with `state`,
 * one per lock round. */
static void at__chan_wake_all(at_chan *c, at_waiter **head, at_waiter **tail,
                              uint32_t *count, int state)
{
    at_waker wk = {0};
    while (at__waiter_release(head, tail, state, &wk)) {
        (*count)--;
        at__spin_unlock(&c->lock);
        at__wake(&wk);
        at__spin_lock(&c->lock);
    }
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
    at__spin_lock(&c->lock);
    c->senders++;
    c->refs++;
    at__spin_unlock(&c->lock);
}

void at_chan_sender_drop(at_chan *c)
{
    at__spin_lock(&c->lock);
    if (c->senders == 0) { /* more drops than references: ignore */
        at__spin_unlock(&c->lock);
        return;
    }
    if (--c->senders == 0)
        at__chan_wake_all(c, &c->recv_head, &c->recv_tail, &c->recv_waiters,
                          AT__W_CLOSED);
    at__chan_unref_unlock(c);
}

void at_chan_close(at_chan *c)
{
    at__spin_lock(&c->lock);
    c->flags |= AT_CHAN_CLOSED;
    at__chan_wake_all(c, &c->send_head, &c->send_tail, &c->send_waiters,
                      AT__W_CLOSED);
    at__chan_wake_all(c, &c->recv_head, &c->recv_tail, &c->recv_waiters,
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
    at__chan_wake_all(c, &c->send_head, &c->send_tail, &c->send_waiters,
                      AT__W_CLOSED);
    at__chan_wake_all(c, &c->recv_head, &c->recv_tail, &c->recv_waiters,
                      AT__W_CLOSED);
    at__chan_unref_unlock(c);
}

/* ====================================================================== */
/* Send                                                                   */
/* ====================================================================== */

AT_NOINLINE static at_poll_result at__chan_send_poll(at_frame *frame,
                                                     at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_chan_send_fut *f = (at_chan_send_fut *)frame;
    at_chan *c = f->chan;
    at_waker wk = {0};

    at__spin_lock(&c->lock);
    if (f->queued) {
        int state = f->waiter.state;
        if (state != AT__W_QUEUED)
            f->queued = 0;
        at__spin_unlock(&c->lock);
        if (state == AT__W_QUEUED)
            return AT_PENDING;
        /* Granted: the receiver moved the message in.  Closed: never sent. */
        f->status = state == AT__W_GRANTED ? 0 : AT_ECLOSED;
        return AT_READY;
    }
    int rc = at__chan_push(c, f->msg, &wk);
    if (rc == AT_EAGAIN) {
        at__waiter_enqueue(&c->send_head, &c->send_tail, &f->waiter, cx);
        c->send_waiters++;
        f->queued = 1;
        at__spin_unlock(&c->lock);
        at__leaf_waiting(&f->leaf);
        return AT_PENDING;
    }
    at__spin_unlock(&c->lock);
    at__wake(&wk);
    f->status = rc;
    return AT_READY;
}

/* Cancelled: leave the queue.  A send granted but never seen was delivered;
 * there is nothing to take back. */
static void at__chan_send_drop(at_frame *frame)
{
    at_chan_send_fut *f = (at_chan_send_fut *)frame;
    at_chan *c = f->chan;

    if (!f->queued)
        return;
    at__spin_lock(&c->lock);
    if (f->waiter.state == AT__W_QUEUED) {
        at__waitq_remove(&c->send_head, &c->send_tail, &f->waiter);
        c->send_waiters--;
    }
    f->queued = 0;
    at__spin_unlock(&c->lock);
    at_waker_drop(&f->waiter.waker);
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
    at_waker wk = {0};
    at__spin_lock(&c->lock);
    int rc = at__chan_push(c, msg, &wk);
    at__spin_unlock(&c->lock);
    at__wake(&wk);
    return rc;
}

/* ====================================================================== */
/* Receive                                                                */
/* ====================================================================== */

/* Lock held: take a message if there is one (0), else AT_ECLOSED when no
 * message can come any more, else AT_EAGAIN. */
static int at__chan_recv_locked(at_chan *c, void *out, at_waker *wk)
{
    if (c->len) {
        at__chan_pop(c, out, wk);
        return 0;
    }
    if (c->senders == 0 || (c->flags & AT_CHAN_CLOSED))
        return AT_ECLOSED;
    return AT_EAGAIN;
}

AT_NOINLINE static at_poll_result at__chan_recv_poll(at_frame *frame,
                                                     at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_chan_recv_fut *f = (at_chan_recv_fut *)frame;
    at_chan *c = f->chan;
    at_waker wk = {0};

    at__spin_lock(&c->lock);
    c->rx_task_id = at_current_task_id();
    /* A woken waiter has left the queue and handed its waker to the wake. */
    if (f->queued && f->waiter.state != AT__W_QUEUED)
        f->queued = 0;
    int rc = at__chan_recv_locked(c, f->out, &wk);
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
    at_waker_drop(&f->waiter.waker);
    at__wake(&wk);
    f->status = rc;
    return AT_READY;
}

/* Cancelled: leave the queue.  Messages stay queued for a later receive. */
static void at__chan_recv_drop(at_frame *frame)
{
    at_chan_recv_fut *f = (at_chan_recv_fut *)frame;
    at_chan *c = f->chan;

    if (!f->queued)
        return;
    at__spin_lock(&c->lock);
    if (f->waiter.state == AT__W_QUEUED) {
        at__waitq_remove(&c->recv_head, &c->recv_tail, &f->waiter);
        c->recv_waiters--;
    }
    f->queued = 0;
    at__spin_unlock(&c->lock);
    at_waker_drop(&f->waiter.waker);
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
    at_waker wk = {0};
    uint64_t id = at_current_task_id();
    at__spin_lock(&c->lock);
    if (id)
        c->rx_task_id = id;
    int rc = at__chan_recv_locked(c, out, &wk);
    at__spin_unlock(&c->lock);
    at__wake(&wk);
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
static at_waker at__oneshot_take_waiter(at_oneshot *o)
{
    at_waker wk = {0};
    at_waiter *w = o->waiter;
    if (w) {
        o->waiter = NULL;
        wk = w->waker;
        w->waker.task = NULL;
        w->state = AT__W_GRANTED;
    }
    return wk;
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
    at_waker wk = at__oneshot_take_waiter(o);
    at__oneshot_unref_unlock(o);
    at__wake(&wk);
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
    at_waker wk = at__oneshot_take_waiter(o);
    at__oneshot_unref_unlock(o);
    at__wake(&wk);
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
        at_waker_drop(&f->waiter.waker);
        return AT_READY;
    }
    if (o->waiter && o->waiter != &f->waiter) { /* a second receive */
        at__spin_unlock(&o->lock);
        f->status = AT_EINVAL;
        return AT_READY;
    }
    if (!o->waiter) {
        at_waker_drop(&f->waiter.waker); /* a consumed wake left it empty */
        f->waiter.waker = at_waker_clone(cx);
        f->waiter.task_id = at_current_task_id();
        f->waiter.state = AT__W_QUEUED;
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
    at_waker_drop(&f->waiter.waker);
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
