/* test_channel.c - unit tests of the mpsc channels (bounded, unbounded) and
 * oneshot channels: FIFO order, blocking sends and receives and their
 * hand-off, close semantics (drain, then AT_ECLOSED), try_* variants, bad
 * input, cancellation, freeing in every order of drops, no lost wake-up
 * over 100,000 round trips, and what a snapshot shows of a waiting task. */
#include "asynctrace.h"
#include "cunit_main.h"
#include "prims_driver.h"

typedef struct order_log {
    int v[64];
    int n;
} order_log;

static void log_add(order_log *l, int v)
{
    if (l->n < 64)
        l->v[l->n++] = v;
}

/* ---- Test tasks ---- */

/* Send `value` once; keep the send status. */
typedef struct sender {
    AT_FRAME;
    at_chan *c;
    int value;
    int status;
    at_chan_send_fut send;
} sender;

AT_ASYNC_FN(sender_run, sender)
{
    AT_BEGIN(sender);
    AT_AWAIT(at_chan_send(&self->send, self->c, &self->value));
    self->status = self->send.status;
    AT_END;
}

static at_frame *sender_new(sender *s, at_chan *c, int value)
{
    s->c = c;
    s->value = value;
    s->status = 1;
    return AT_START(s, sender_run);
}

/* Receive until AT_ECLOSED, logging each message; then drop the receiver
 * if `drop` is set. */
typedef struct receiver {
    AT_FRAME;
    at_chan *c;
    order_log *log;
    int drop;
    int msg;
    int status;
    at_chan_recv_fut recv;
} receiver;

AT_ASYNC_FN(receiver_run, receiver)
{
    AT_BEGIN(receiver);
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->recv, self->c, &self->msg));
        self->status = self->recv.status;
        if (self->status)
            break;
        log_add(self->log, self->msg);
    }
    if (self->drop)
        at_chan_receiver_drop(self->c);
    AT_END;
}

static at_frame *receiver_new(receiver *s, at_chan *c, order_log *log, int drop)
{
    s->c = c;
    s->log = log;
    s->drop = drop;
    s->status = 1;
    return AT_START(s, receiver_run);
}

static void assert_log(const order_log *l, const int *want, int n)
{
    AT_ASSERT_EQ_INT(l->n, n);
    for (int i = 0; i < n; i++)
        AT_ASSERT_EQ_INT(l->v[i], want[i]);
}

static void assert_chan_leaf(const at_leaf *l, const char *function,
                             uint32_t kind, const at_chan *c)
{
    AT_ASSERT_EQ_STR(l->frame.site->function, function);
    AT_ASSERT_EQ_INT(l->frame.site->kind, AT_KIND_LEAF);
    AT_ASSERT_EQ_INT(l->wait.kind, kind);
    CU_ASSERT_PTR_EQUAL_FATAL(l->wait.object, c);
    CU_ASSERT_FATAL(l->wait.since_ns > 0);
}

/* ====================================================================== */
/* Without tasks                                                          */
/* ====================================================================== */

AT_TEST(bounded_capacity_zero_is_refused)
{
    int err = 1;
    CU_ASSERT_PTR_NULL(at_chan_new_bounded(sizeof(int), 0, &err));
    AT_ASSERT_EQ_INT(err, AT_EINVAL);
    CU_ASSERT_PTR_NULL(at_chan_new_bounded(sizeof(int), 0, NULL));
}

AT_TEST(bounded_try_send_recv_fifo)
{
    int err = 1, v;
    at_chan *c = at_chan_new_bounded(sizeof(int), 3, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    AT_ASSERT_EQ_INT(err, 0);
    AT_ASSERT_EQ_U64(c->magic, AT_CHAN_MAGIC);
    AT_ASSERT_EQ_U64(c->capacity, 3);
    AT_ASSERT_EQ_U64(c->flags, 0);
    AT_ASSERT_EQ_U64(c->senders, 1);
    AT_ASSERT_EQ_U64(c->rx_task_id, 0);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), AT_EAGAIN);
    /* Wrap the ring around a few times. */
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 5; round++) {
        while (at_chan_try_send(c, &next_in) == 0)
            next_in++;
        AT_ASSERT_EQ_U64(c->len, 3);
        AT_ASSERT_EQ_INT(at_chan_try_send(c, &next_in), AT_EAGAIN);
        for (int i = 0; i < 2; i++) {
            AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), 0);
            AT_ASSERT_EQ_INT(v, next_out++);
        }
    }
    while (at_chan_try_recv(c, &v) == 0)
        AT_ASSERT_EQ_INT(v, next_out++);
    AT_ASSERT_EQ_INT(next_out, next_in);
    AT_ASSERT_EQ_U64(c->len, 0);
    at_chan_sender_drop(c);
    at_chan_receiver_drop(c);
}

AT_TEST(unbounded_grows_and_keeps_order)
{
    at_chan *c = at_chan_new_unbounded(sizeof(uint64_t), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    AT_ASSERT_EQ_U64(c->flags, AT_CHAN_UNBOUNDED);
    AT_ASSERT_EQ_U64(c->capacity, 0);
    uint64_t v;
    for (uint64_t i = 0; i < 1000; i++) {
        AT_ASSERT_EQ_INT(at_chan_try_send(c, &i), 0);
        if (i % 3 == 0) { /* keep the head moving while it grows */
            AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), 0);
            AT_ASSERT_EQ_U64(v, i / 3);
        }
    }
    AT_ASSERT_EQ_U64(c->len, 1000 - 334);
    for (uint64_t i = 334; i < 1000; i++) {
        AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), 0);
        AT_ASSERT_EQ_U64(v, i);
    }
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), AT_EAGAIN);
    at_chan_receiver_drop(c);
    at_chan_sender_drop(c);
}

AT_TEST(zero_sized_messages_are_counted)
{
    at_chan *c = at_chan_new_bounded(0, 2, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    AT_ASSERT_EQ_INT(at_chan_try_send(c, NULL), 0);
    AT_ASSERT_EQ_INT(at_chan_try_send(c, NULL), 0);
    AT_ASSERT_EQ_INT(at_chan_try_send(c, NULL), AT_EAGAIN);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, NULL), 0);
    AT_ASSERT_EQ_U64(c->len, 1);
    at_chan_sender_drop(c);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, NULL), 0);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, NULL), AT_ECLOSED);
    at_chan_receiver_drop(c);
}

/* The last sender gone: the receiver drains, then sees AT_ECLOSED. */
AT_TEST(last_sender_drop_drains_then_closed)
{
    int v;
    at_chan *c = at_chan_new_unbounded(sizeof(int), NULL);
    at_chan_sender_clone(c);
    AT_ASSERT_EQ_U64(c->senders, 2);
    for (int i = 0; i < 3; i++)
        AT_ASSERT_EQ_INT(at_chan_try_send(c, &i), 0);
    at_chan_sender_drop(c);
    AT_ASSERT_EQ_U64(c->senders, 1);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), 0); /* one sender left */
    at_chan_sender_drop(c);
    AT_ASSERT_EQ_U64(c->senders, 0);
    AT_ASSERT_EQ_U64(c->flags & AT_CHAN_CLOSED, 0);
    for (int i = 1; i < 3; i++) {
        AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), 0);
        AT_ASSERT_EQ_INT(v, i);
    }
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), AT_ECLOSED);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), AT_ECLOSED);
    at_chan_sender_drop(c); /* more drops than senders: ignored */
    AT_ASSERT_EQ_U64(c->senders, 0);
    at_chan_receiver_drop(c);
}

/* Receiver gone: every send fails; queued messages are freed with it. */
AT_TEST(receiver_drop_closes_for_senders)
{
    int v = 7;
    at_chan *c = at_chan_new_bounded(sizeof(int), 4, NULL);
    AT_ASSERT_EQ_INT(at_chan_try_send(c, &v), 0);
    at_chan_receiver_drop(c);
    AT_ASSERT_EQ_U64(c->flags, AT_CHAN_CLOSED | AT_CHAN_RX_DROPPED);
    AT_ASSERT_EQ_INT(at_chan_try_send(c, &v), AT_ECLOSED);
    at_chan_receiver_drop(c); /* twice: ignored while senders hold it */
    at_chan_sender_clone(c);
    at_chan_sender_drop(c);
    at_chan_sender_drop(c); /* frees it, with the queued message */
}

/* at_chan_close without dropping: sends fail, the receiver drains. */
AT_TEST(close_then_drain)
{
    int v;
    at_chan *c = at_chan_new_bounded(sizeof(int), 4, NULL);
    for (int i = 0; i < 2; i++)
        AT_ASSERT_EQ_INT(at_chan_try_send(c, &i), 0);
    at_chan_close(c);
    AT_ASSERT_EQ_U64(c->flags, AT_CHAN_CLOSED);
    AT_ASSERT_EQ_INT(at_chan_try_send(c, &v), AT_ECLOSED);
    for (int i = 0; i < 2; i++) {
        AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), 0);
        AT_ASSERT_EQ_INT(v, i);
    }
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), AT_ECLOSED);
    at_chan_sender_drop(c);
    at_chan_receiver_drop(c);
}

/* Every order of dropping 3 senders and the receiver, with messages still
 * queued, frees the channel exactly once (the sanitizer build checks). */
AT_TEST(every_drop_order_frees_once)
{
    static const int orders[][4] = {
        {0, 1, 2, 3}, {3, 0, 1, 2}, {0, 3, 1, 2}, {1, 2, 0, 3}, {0, 1, 3, 2},
    };
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        at_chan *c = at_chan_new_unbounded(sizeof(int), NULL);
        at_chan_sender_clone(c);
        at_chan_sender_clone(c);
        for (int i = 0; i < 40; i++)
            at_chan_try_send(c, &i);
        for (int k = 0; k < 4; k++) {
            if (orders[o][k] == 3)
                at_chan_receiver_drop(c);
            else
                at_chan_sender_drop(c);
        }
    }
}

/* ====================================================================== */
/* Blocking sends and receives                                            */
/* ====================================================================== */

typedef struct blocking_ctx {
    at_chan *c;
    order_log log;
    at_join_handle w[4];
} blocking_ctx;

/* Senders queue on a full channel in FIFO order; each receive moves the
 * first queued sender's message in, so nobody overtakes them. */
static int send_queue_steps(driver *d)
{
    blocking_ctx *c = d->ctx;
    int v;
    switch (d->phase) {
    case 0:
        v = 0;
        AT_ASSERT_EQ_INT(at_chan_try_send(c->c, &v), 0);
        for (int i = 0; i < 3; i++)
            c->w[i] = AT_SPAWN(NULL, "sender", sender, sender_new, c->c, i + 1);
        return SETTLE;
    case 1: {
        AT_ASSERT_EQ_U64(c->c->send_waiters, 3);
        AT_ASSERT_EQ_U64(c->c->len, 1);
        for (int i = 0; i < 3; i++) {
            sender *s = at_join_handle_state(c->w[i]);
            assert_chan_leaf(&s->send.leaf, "at_chan_send", AT_RES_CHAN_SEND,
                             c->c);
            AT_ASSERT_EQ_INT(task_state(c->w[i]), AT_TASK_IDLE);
        }
        AT_ASSERT_EQ_U64(c->c->send_head->waker.task->id, at_join_handle_id(c->w[0]));
        AT_ASSERT_EQ_INT(at_chan_try_recv(c->c, &v), 0);
        AT_ASSERT_EQ_INT(v, 0);
        /* Sender 1's message moved in: still full, no overtaking. */
        AT_ASSERT_EQ_U64(c->c->len, 1);
        AT_ASSERT_EQ_U64(c->c->send_waiters, 2);
        v = 99;
        AT_ASSERT_EQ_INT(at_chan_try_send(c->c, &v), AT_EAGAIN);
        return SETTLE;
    }
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w[0]), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_INT(((sender *)at_join_handle_state(c->w[0]))->status, 0);
        for (int want = 1; want <= 3; want++) {
            AT_ASSERT_EQ_INT(at_chan_try_recv(c->c, &v), 0);
            AT_ASSERT_EQ_INT(v, want);
        }
        AT_ASSERT_EQ_U64(c->c->send_waiters, 0);
        return SETTLE;
    case 3:
        for (int i = 0; i < 3; i++) {
            AT_ASSERT_EQ_INT(task_state(c->w[i]), AT_TASK_COMPLETE);
            AT_ASSERT_EQ_INT(((sender *)at_join_handle_state(c->w[i]))->status, 0);
            at_join_handle_release(&c->w[i]);
        }
        return 0;
    }
    return 0;
}

AT_TEST(bounded_send_waits_fifo_with_hand_off)
{
    blocking_ctx c = {0};
    c.c = at_chan_new_bounded(sizeof(int), 1, NULL);
    AT_ASSERT_EQ_INT(run_driver(send_queue_steps, &c), 4);
    at_chan_sender_drop(c.c);
    at_chan_receiver_drop(c.c);
}

/* A waiting receiver records itself, is woken by a send, then sees
 * AT_ECLOSED when the last sender goes (after draining). */
static int recv_wait_steps(driver *d)
{
    blocking_ctx *c = d->ctx;
    int v;
    switch (d->phase) {
    case 0:
        c->w[0] = AT_SPAWN(NULL, "receiver", receiver, receiver_new, c->c,
                           &c->log, 1);
        return SETTLE;
    case 1: {
        receiver *r = at_join_handle_state(c->w[0]);
        assert_chan_leaf(&r->recv.leaf, "at_chan_recv", AT_RES_CHAN_RECV, c->c);
        AT_ASSERT_EQ_U64(c->c->recv_waiters, 1);
        AT_ASSERT_EQ_U64(c->c->rx_task_id, at_join_handle_id(c->w[0]));
        v = 5;
        AT_ASSERT_EQ_INT(at_chan_try_send(c->c, &v), 0);
        AT_ASSERT_EQ_U64(c->c->recv_waiters, 0); /* woken */
        AT_ASSERT_EQ_INT(task_state(c->w[0]), AT_TASK_SCHEDULED);
        return SETTLE;
    }
    case 2:
        AT_ASSERT_EQ_INT(c->log.n, 1);
        AT_ASSERT_EQ_U64(c->c->recv_waiters, 1); /* waiting again */
        for (v = 6; v < 9; v++)
            AT_ASSERT_EQ_INT(at_chan_try_send(c->c, &v), 0);
        at_chan_sender_drop(c->c);
        return SETTLE;
    case 3: {
        static const int want[] = {5, 6, 7, 8};
        assert_log(&c->log, want, 4);
        AT_ASSERT_EQ_INT(task_state(c->w[0]), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_INT(((receiver *)at_join_handle_state(c->w[0]))->status,
                         AT_ECLOSED);
        at_join_handle_release(&c->w[0]); /* the task dropped the receiver */
        return 0;
    }
    }
    return 0;
}

AT_TEST(recv_waits_then_drains_then_closed)
{
    blocking_ctx c = {0};
    c.c = at_chan_new_bounded(sizeof(int), 3, NULL);
    AT_ASSERT_EQ_INT(run_driver(recv_wait_steps, &c), 4);
}

/* Senders waiting on a full channel fail with AT_ECLOSED when the receiver
 * is dropped; a receiver waiting on an empty one when it is closed. */
static int close_wakes_steps(driver *d)
{
    blocking_ctx *c = d->ctx;
    int v = 0;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_chan_try_send(c->c, &v), 0);
        c->w[0] = AT_SPAWN(NULL, "sender", sender, sender_new, c->c, 1);
        c->w[1] = AT_SPAWN(NULL, "sender", sender, sender_new, c->c, 2);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_U64(c->c->send_waiters, 2);
        at_chan_receiver_drop(c->c);
        AT_ASSERT_EQ_U64(c->c->send_waiters, 0);
        return SETTLE;
    case 2:
        for (int i = 0; i < 2; i++) {
            AT_ASSERT_EQ_INT(task_state(c->w[i]), AT_TASK_COMPLETE);
            AT_ASSERT_EQ_INT(((sender *)at_join_handle_state(c->w[i]))->status,
                             AT_ECLOSED);
            at_join_handle_release(&c->w[i]);
        }
        at_chan_sender_drop(c->c); /* frees the first channel */
        c->c = at_chan_new_unbounded(sizeof(int), NULL);
        c->w[2] = AT_SPAWN(NULL, "receiver", receiver, receiver_new, c->c,
                           &c->log, 0);
        return SETTLE;
    case 3:
        AT_ASSERT_EQ_U64(c->c->recv_waiters, 1);
        at_chan_close(c->c);
        return SETTLE;
    case 4:
        AT_ASSERT_EQ_INT(task_state(c->w[2]), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_INT(((receiver *)at_join_handle_state(c->w[2]))->status,
                         AT_ECLOSED);
        AT_ASSERT_EQ_INT(c->log.n, 0);
        at_join_handle_release(&c->w[2]);
        /* Used after close: still refused. */
        AT_ASSERT_EQ_INT(at_chan_try_send(c->c, &v), AT_ECLOSED);
        at_chan_sender_drop(c->c);
        at_chan_receiver_drop(c->c);
        return 0;
    }
    return 0;
}

AT_TEST(close_wakes_waiting_senders_and_receiver)
{
    blocking_ctx c = {0};
    c.c = at_chan_new_bounded(sizeof(int), 1, NULL);
    AT_ASSERT_EQ_INT(run_driver(close_wakes_steps, &c), 5);
}

/* Cancellation: an aborted queued sender leaves the queue and its message
 * is never delivered; an aborted receiver leaves, and messages sent later
 * wait in the channel. */
static int cancel_steps(driver *d)
{
    blocking_ctx *c = d->ctx;
    int v = 0;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_chan_try_send(c->c, &v), 0);
        for (int i = 0; i < 3; i++)
            c->w[i] = AT_SPAWN(NULL, "sender", sender, sender_new, c->c, i + 1);
        return SETTLE;
    case 1:
        at_task_abort(c->w[1]);
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w[1]), AT_TASK_CANCELLED);
        AT_ASSERT_EQ_U64(c->c->send_waiters, 2);
        AT_ASSERT_EQ_U64(c->c->send_head->waker.task->id, at_join_handle_id(c->w[0]));
        AT_ASSERT_EQ_U64(c->c->send_tail->waker.task->id, at_join_handle_id(c->w[2]));
        c->w[3] = AT_SPAWN(NULL, "receiver", receiver, receiver_new, c->c,
                           &c->log, 0);
        return SETTLE;
    case 3: {
        static const int want[] = {0, 1, 3};
        assert_log(&c->log, want, 3);
        AT_ASSERT_EQ_U64(c->c->recv_waiters, 1);
        at_task_abort(c->w[3]);
        return SETTLE;
    }
    case 4:
        AT_ASSERT_EQ_INT(task_state(c->w[3]), AT_TASK_CANCELLED);
        AT_ASSERT_EQ_U64(c->c->recv_waiters, 0);
        CU_ASSERT_PTR_NULL(c->c->recv_head);
        v = 42;
        AT_ASSERT_EQ_INT(at_chan_try_send(c->c, &v), 0);
        AT_ASSERT_EQ_U64(c->c->len, 1);
        AT_ASSERT_EQ_INT(at_chan_try_recv(c->c, &v), 0);
        AT_ASSERT_EQ_INT(v, 42);
        for (int i = 0; i < 4; i++)
            at_join_handle_release(&c->w[i]);
        return 0;
    }
    return 0;
}

AT_TEST(cancel_waiting_sender_and_receiver)
{
    blocking_ctx c = {0};
    c.c = at_chan_new_bounded(sizeof(int), 1, NULL);
    AT_ASSERT_EQ_INT(run_driver(cancel_steps, &c), 5);
    at_chan_sender_drop(c.c);
    at_chan_receiver_drop(c.c);
}

/* A task waiting in a receive, as the snapshot walker sees it. */
static uint32_t waiting_recv_line;

typedef struct recv_once {
    AT_FRAME;
    at_chan *c;
    int msg;
    at_chan_recv_fut recv;
} recv_once;

AT_ASYNC_FN(recv_once_run, recv_once)
{
    AT_BEGIN(recv_once);
    waiting_recv_line = __LINE__; AT_AWAIT(at_chan_recv(&self->recv, self->c, &self->msg));
    AT_END;
}

static at_frame *recv_once_new(recv_once *s, at_chan *c)
{
    s->c = c;
    return AT_START(s, recv_once_run);
}

static int snapshot_steps(driver *d)
{
    blocking_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        c->w[0] = AT_SPAWN(NULL, "rx", recv_once, recv_once_new, c->c);
        return SETTLE;
    case 1: {
        at_dump *dump = at_snapshot_take();
        CU_ASSERT_PTR_NOT_NULL_FATAL(dump);
        const at_dump_task *t = at_dump_find_task(dump, at_join_handle_id(c->w[0]));
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        const at_dump_frame *f = t->await;
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        AT_ASSERT_EQ_STR(f->function, "recv_once_run");
        AT_ASSERT_EQ_INT(f->line, waiting_recv_line);
        AT_ASSERT_EQ_INT(f->nchildren, 1);
        f = &f->children[0];
        AT_ASSERT_EQ_STR(f->function, "at_chan_recv");
        AT_ASSERT_EQ_INT(f->kind, AT_KIND_LEAF);
        AT_ASSERT_EQ_INT(f->resource->kind, AT_RES_CHAN_RECV);
        AT_ASSERT_EQ_U64(f->resource->object, (uintptr_t)c->c);
        AT_ASSERT_EQ_U64(f->resource->capacity, 8);
        AT_ASSERT_EQ_U64(f->resource->len, 0);
        AT_ASSERT_EQ_U64(f->resource->senders, 2);
        AT_ASSERT_EQ_U64(f->resource->rx_task_id, at_join_handle_id(c->w[0]));
        AT_ASSERT_EQ_INT(f->resource->waiters, 1);
        AT_ASSERT_EQ_INT(f->resource->closed, 0);
        at_dump_free(dump);
        int v = 1;
        AT_ASSERT_EQ_INT(at_chan_try_send(c->c, &v), 0);
        return SETTLE;
    }
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w[0]), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_INT(((recv_once *)at_join_handle_state(c->w[0]))->msg, 1);
        at_join_handle_release(&c->w[0]);
        return 0;
    }
    return 0;
}

AT_TEST(snapshot_shows_waiting_receiver)
{
    blocking_ctx c = {0};
    c.c = at_chan_new_bounded(sizeof(int), 8, NULL);
    at_chan_sender_clone(c.c);
    AT_ASSERT_EQ_INT(run_driver(snapshot_steps, &c), 3);
    at_chan_sender_drop(c.c);
    at_chan_sender_drop(c.c);
    at_chan_receiver_drop(c.c);
}

/* ====================================================================== */
/* No lost wake-up: 100,000 round trips between two tasks                  */
/* ====================================================================== */

#define PING_PONG_ROUNDS 100000

typedef struct ping {
    AT_FRAME;
    at_chan *out, *in;
    uint64_t i, got;
    int ok;
    union {
        at_chan_send_fut send;
        at_chan_recv_fut recv;
    } aw;
} ping;

/* Send i, wait for i back; then drop both ends. */
AT_ASYNC_FN(ping_run, ping)
{
    AT_BEGIN(ping);
    self->ok = 1;
    for (self->i = 0; self->i < PING_PONG_ROUNDS; self->i++) {
        AT_AWAIT(at_chan_send(&self->aw.send, self->out, &self->i));
        if (self->aw.send.status != 0)
            break;
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->in, &self->got));
        if (self->aw.recv.status != 0 || self->got != self->i)
            break;
    }
    self->ok = self->i == PING_PONG_ROUNDS;
    at_chan_sender_drop(self->out);
    at_chan_receiver_drop(self->in);
    AT_END;
}

static at_frame *ping_new(ping *s, at_chan *out, at_chan *in)
{
    s->out = out;
    s->in = in;
    return AT_START(s, ping_run);
}

/* Echo every message until the channel closes; count them. */
typedef struct pong {
    AT_FRAME;
    at_chan *in, *out;
    uint64_t v, count;
    int status;
    union {
        at_chan_send_fut send;
        at_chan_recv_fut recv;
    } aw;
} pong;

AT_ASYNC_FN(pong_run, pong)
{
    AT_BEGIN(pong);
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->in, &self->v));
        if ((self->status = self->aw.recv.status) != 0)
            break;
        self->count++;
        AT_AWAIT(at_chan_send(&self->aw.send, self->out, &self->v));
        if ((self->status = self->aw.send.status) != 0)
            break;
    }
    at_chan_receiver_drop(self->in);
    at_chan_sender_drop(self->out);
    AT_END;
}

static at_frame *pong_new(pong *s, at_chan *in, at_chan *out)
{
    s->in = in;
    s->out = out;
    return AT_START(s, pong_run);
}

typedef struct ping_pong_ctx {
    at_join_handle a, b;
} ping_pong_ctx;

typedef struct ping_pong_main {
    AT_FRAME;
    ping_pong_ctx *c;
    at_join_fut join;
} ping_pong_main;

AT_ASYNC_FN(ping_pong_main_run, ping_pong_main)
{
    AT_BEGIN(ping_pong_main);
    {
        at_chan *ab = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
        at_chan *ba = at_chan_new_unbounded(sizeof(uint64_t), NULL);
        self->c->a = AT_SPAWN(NULL, "ping", ping, ping_new, ab, ba);
        self->c->b = AT_SPAWN(NULL, "pong", pong, pong_new, ab, ba);
    }
    AT_AWAIT(at_join(&self->join, self->c->a));
    AT_ASSERT_EQ_INT(self->join.status, 0);
    AT_AWAIT(at_join(&self->join, self->c->b));
    AT_ASSERT_EQ_INT(self->join.status, 0);
    AT_END;
}

static at_frame *ping_pong_main_new(ping_pong_main *s, ping_pong_ctx *c)
{
    s->c = c;
    return AT_START(s, ping_pong_main_run);
}

static void ping_pong_on(at_runtime *rt)
{
    ping_pong_ctx c = {0};
    ping_pong_main m;
    AT_ASSERT_EQ_INT(at_block_on(rt, ping_pong_main_new(&m, &c), "main"), 0);
    ping *a = at_join_handle_state(c.a);
    pong *b = at_join_handle_state(c.b);
    AT_ASSERT_EQ_INT(a->ok, 1);
    AT_ASSERT_EQ_U64(a->i, PING_PONG_ROUNDS);
    AT_ASSERT_EQ_U64(b->count, PING_PONG_ROUNDS);
    AT_ASSERT_EQ_INT(b->status, AT_ECLOSED);
    /* At most one poll per await, plus the first: no busy loop. */
    CU_ASSERT(c.a.task->poll_count <= 2 * PING_PONG_ROUNDS + 1);
    CU_ASSERT(c.b.task->poll_count <= 2 * PING_PONG_ROUNDS + 2);
    at_join_handle_release(&c.a);
    at_join_handle_release(&c.b);
    at_runtime_free(rt);
}

AT_TEST(ping_pong_100000_no_lost_wakeup)
{
    ping_pong_on(at_runtime_new(NULL));
}

/* The same with the two tasks free to run on two worker threads. */
AT_TEST(ping_pong_100000_multi_thread)
{
    at_runtime_options o = {AT_FLAVOR_MULTI_THREAD, 2, "pingpong"};
    at_runtime *rt = at_runtime_new(&o);
    if (!rt) {
        fprintf(stderr, "multi-thread flavor not available: test skipped\n");
        return;
    }
    ping_pong_on(rt);
}

/* Two producers far ahead of their consumer through a small bounded
 * channel: every message arrives once, each producer's in order. */
#define PRODUCED 50000

typedef struct producer {
    AT_FRAME;
    at_chan *c;
    uint64_t tag, i, msg;
    at_chan_send_fut send;
} producer;

AT_ASYNC_FN(producer_run, producer)
{
    AT_BEGIN(producer);
    for (self->i = 0; self->i < PRODUCED; self->i++) {
        self->msg = self->tag << 32 | self->i;
        AT_AWAIT(at_chan_send(&self->send, self->c, &self->msg));
        AT_ASSERT_EQ_INT(self->send.status, 0);
    }
    at_chan_sender_drop(self->c);
    AT_END;
}

static at_frame *producer_new(producer *s, at_chan *c, uint64_t tag)
{
    s->c = c;
    s->tag = tag;
    return AT_START(s, producer_run);
}

typedef struct consumer {
    AT_FRAME;
    at_chan *c;
    uint64_t next[2], v, count;
    int in_order;
    at_chan_recv_fut recv;
} consumer;

AT_ASYNC_FN(consumer_run, consumer)
{
    AT_BEGIN(consumer);
    self->in_order = 1;
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->recv, self->c, &self->v));
        if (self->recv.status)
            break;
        self->count++;
        if ((self->v >> 32) > 1 || (self->v & 0xffffffffu) != self->next[self->v >> 32]++)
            self->in_order = 0;
    }
    at_chan_receiver_drop(self->c);
    AT_END;
}

static at_frame *consumer_new(consumer *s, at_chan *c)
{
    s->c = c;
    return AT_START(s, consumer_run);
}

typedef struct pc_main {
    AT_FRAME;
    at_join_handle h[3];
    int i;
    at_join_fut join;
} pc_main;

AT_ASYNC_FN(pc_main_run, pc_main)
{
    AT_BEGIN(pc_main);
    {
        at_chan *ch = at_chan_new_bounded(sizeof(uint64_t), 4, NULL);
        at_chan_sender_clone(ch);
        self->h[0] = AT_SPAWN(NULL, "consumer", consumer, consumer_new, ch);
        self->h[1] = AT_SPAWN(NULL, "producer", producer, producer_new, ch, 0);
        self->h[2] = AT_SPAWN(NULL, "producer", producer, producer_new, ch, 1);
    }
    for (self->i = 0; self->i < 3; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        AT_ASSERT_EQ_INT(self->join.status, 0);
    }
    AT_END;
}

AT_TEST(two_producers_one_consumer_in_order)
{
    pc_main m;
    at_runtime *rt = at_runtime_new(NULL);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&m, pc_main_run), "main"), 0);
    consumer *s = at_join_handle_state(m.h[0]);
    AT_ASSERT_EQ_INT(s->in_order, 1);
    AT_ASSERT_EQ_U64(s->count, 2 * PRODUCED);
    AT_ASSERT_EQ_U64(s->next[0], PRODUCED);
    AT_ASSERT_EQ_U64(s->next[1], PRODUCED);
    for (int i = 0; i < 3; i++)
        at_join_handle_release(&m.h[i]);
    at_runtime_free(rt);
}

/* ====================================================================== */
/* Oneshot                                                                */
/* ====================================================================== */

typedef struct oneshot_rx {
    AT_FRAME;
    at_oneshot *o;
    uint64_t value;
    int status;
    at_oneshot_recv_fut recv;
} oneshot_rx;

AT_ASYNC_FN(oneshot_rx_run, oneshot_rx)
{
    AT_BEGIN(oneshot_rx);
    AT_AWAIT(at_oneshot_recv(&self->recv, self->o, &self->value));
    self->status = self->recv.status;
    AT_END;
}

static at_frame *oneshot_rx_new(oneshot_rx *s, at_oneshot *o)
{
    s->o = o;
    s->status = 1;
    return AT_START(s, oneshot_rx_run);
}

typedef struct oneshot_ctx {
    at_oneshot *o;
    at_join_handle w;
} oneshot_ctx;

/* Receiver waits, then the value arrives; a second send is refused. */
static int oneshot_steps(driver *d)
{
    oneshot_ctx *c = d->ctx;
    uint64_t v = 0x1234567890ull;
    switch (d->phase) {
    case 0:
        c->w = AT_SPAWN(NULL, "rx", oneshot_rx, oneshot_rx_new, c->o);
        return SETTLE;
    case 1: {
        oneshot_rx *r = at_join_handle_state(c->w);
        AT_ASSERT_EQ_STR(r->recv.leaf.frame.site->function, "at_oneshot_recv");
        AT_ASSERT_EQ_INT(r->recv.leaf.wait.kind, AT_RES_ONESHOT);
        CU_ASSERT_PTR_EQUAL_FATAL(r->recv.leaf.wait.object, c->o);
        CU_ASSERT_FATAL(r->recv.leaf.wait.since_ns > 0);
        AT_ASSERT_EQ_U64(c->o->rx_task_id, at_join_handle_id(c->w));
        AT_ASSERT_EQ_U64(c->o->flags, 0);
        AT_ASSERT_EQ_INT(at_oneshot_send(c->o, &v), 0);
        /* The receiver has not run yet: the record is still there. */
        AT_ASSERT_EQ_U64(c->o->flags, AT_ONESHOT_SENT);
        AT_ASSERT_EQ_INT(at_oneshot_send(c->o, &v), AT_EINVAL);
        at_oneshot_sender_drop(c->o); /* consumed by the send: ignored */
        return SETTLE;
    }
    case 2: {
        oneshot_rx *r = at_join_handle_state(c->w);
        AT_ASSERT_EQ_INT(task_state(c->w), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_INT(r->status, 0);
        AT_ASSERT_EQ_U64(r->value, v); /* and the oneshot is freed */
        at_join_handle_release(&c->w);
        return 0;
    }
    }
    return 0;
}

AT_TEST(oneshot_wait_then_send)
{
    oneshot_ctx c = {0};
    c.o = at_oneshot_new(sizeof(uint64_t));
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.o);
    AT_ASSERT_EQ_U64(c.o->magic, AT_ONESHOT_MAGIC);
    AT_ASSERT_EQ_INT(run_driver(oneshot_steps, &c), 3);
}

/* The sender goes without sending: the waiting receiver gets AT_ECLOSED. */
static int oneshot_closed_steps(driver *d)
{
    oneshot_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        c->w = AT_SPAWN(NULL, "rx", oneshot_rx, oneshot_rx_new, c->o);
        return SETTLE;
    case 1:
        at_oneshot_sender_drop(c->o);
        AT_ASSERT_EQ_U64(c->o->flags, AT_ONESHOT_TX_DROPPED);
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_INT(((oneshot_rx *)at_join_handle_state(c->w))->status,
                         AT_ECLOSED);
        at_join_handle_release(&c->w);
        return 0;
    }
    return 0;
}

AT_TEST(oneshot_sender_dropped_closes)
{
    oneshot_ctx c = {0};
    c.o = at_oneshot_new(sizeof(uint64_t));
    AT_ASSERT_EQ_INT(run_driver(oneshot_closed_steps, &c), 3);
}

/* A cancelled receive leaves nothing behind; the value sent afterwards is
 * freed with the oneshot when the receiver is dropped. */
static int oneshot_cancel_steps(driver *d)
{
    oneshot_ctx *c = d->ctx;
    uint64_t v = 3;
    switch (d->phase) {
    case 0:
        c->w = AT_SPAWN(NULL, "rx", oneshot_rx, oneshot_rx_new, c->o);
        return SETTLE;
    case 1:
        CU_ASSERT_PTR_NOT_NULL_FATAL(c->o->waiter);
        at_task_abort(c->w);
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w), AT_TASK_CANCELLED);
        CU_ASSERT_PTR_NULL_FATAL(c->o->waiter);
        AT_ASSERT_EQ_INT(at_oneshot_send(c->o, &v), 0);
        at_oneshot_receiver_drop(c->o);
        at_join_handle_release(&c->w);
        return 0;
    }
    return 0;
}

AT_TEST(oneshot_cancelled_receive)
{
    oneshot_ctx c = {0};
    c.o = at_oneshot_new(sizeof(uint64_t));
    AT_ASSERT_EQ_INT(run_driver(oneshot_cancel_steps, &c), 3);
}

AT_TEST(oneshot_without_tasks)
{
    uint64_t v = 9;
    /* Receiver gone first: the send fails and frees it. */
    at_oneshot *o = at_oneshot_new(sizeof v);
    at_oneshot_receiver_drop(o);
    AT_ASSERT_EQ_U64(o->flags, AT_ONESHOT_RX_DROPPED);
    AT_ASSERT_EQ_INT(at_oneshot_send(o, &v), AT_ECLOSED);
    /* Sent, never received: freed by the receiver's drop. */
    o = at_oneshot_new(sizeof v);
    AT_ASSERT_EQ_INT(at_oneshot_send(o, &v), 0);
    at_oneshot_receiver_drop(o);
    /* Both dropped, nothing sent, either order. */
    o = at_oneshot_new(sizeof v);
    at_oneshot_sender_drop(o);
    at_oneshot_receiver_drop(o);
    o = at_oneshot_new(sizeof v);
    at_oneshot_receiver_drop(o);
    at_oneshot_sender_drop(o);
}

/* ====================================================================== */
/* Across threads                                                         */
/* ====================================================================== */

#include <pthread.h>
#include <sched.h>

#define CROSS_ROUNDS 20000

typedef struct thread_sender {
    at_chan *c;
    uint64_t tag;
    int drop;
} thread_sender;

/* Send CROSS_ROUNDS tagged values with try_send, spinning while full. */
static void *thread_send_main(void *arg)
{
    thread_sender *ts = arg;
    for (uint64_t i = 0; i < CROSS_ROUNDS; i++) {
        uint64_t v = ts->tag << 32 | i;
        int rc;
        while ((rc = at_chan_try_send(ts->c, &v)) == AT_EAGAIN)
            sched_yield();
        if (rc != 0)
            return (void *)1;
    }
    if (ts->drop)
        at_chan_sender_drop(ts->c);
    return NULL;
}

/* A task receives what a plain thread sends through a bounded channel: the
 * thread's sends wake the task on the runtime's thread, none is lost. */
typedef struct cross_rx {
    AT_FRAME;
    at_chan *c;
    uint64_t v, next, count;
    int in_order, status;
    at_chan_recv_fut recv;
} cross_rx;

AT_ASYNC_FN(cross_rx_run, cross_rx)
{
    AT_BEGIN(cross_rx);
    self->in_order = 1;
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->recv, self->c, &self->v));
        if ((self->status = self->recv.status) != 0)
            break;
        if (self->v != self->next++)
            self->in_order = 0;
        self->count++;
    }
    AT_END;
}

AT_TEST(thread_sends_wake_a_task)
{
    cross_rx s = {0};
    s.c = at_chan_new_bounded(sizeof(uint64_t), 4, NULL);
    thread_sender ts = {s.c, 0, 1};
    pthread_t th;
    at_runtime *rt = at_runtime_new(NULL);
    AT_ASSERT_EQ_INT(pthread_create(&th, NULL, thread_send_main, &ts), 0);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&s, cross_rx_run), "rx"), 0);
    void *ret;
    pthread_join(th, &ret);
    CU_ASSERT_PTR_NULL(ret);
    AT_ASSERT_EQ_INT(s.status, AT_ECLOSED);
    AT_ASSERT_EQ_INT(s.in_order, 1);
    AT_ASSERT_EQ_U64(s.count, CROSS_ROUNDS);
    at_chan_receiver_drop(s.c);
    at_runtime_free(rt);
}

/* Two threads fill an unbounded channel at once (its buffer grows under
 * contention); every message is there once, each thread's in order. */
AT_TEST(concurrent_senders_grow_unbounded)
{
    at_chan *c = at_chan_new_unbounded(sizeof(uint64_t), NULL);
    at_chan_sender_clone(c);
    thread_sender ts[2] = {{c, 0, 1}, {c, 1, 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        AT_ASSERT_EQ_INT(pthread_create(&th[i], NULL, thread_send_main, &ts[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        CU_ASSERT_PTR_NULL(ret);
    }
    AT_ASSERT_EQ_U64(c->len, 2 * CROSS_ROUNDS);
    AT_ASSERT_EQ_U64(c->senders, 0);
    uint64_t next[2] = {0, 0}, v;
    while (at_chan_try_recv(c, &v) == 0) {
        CU_ASSERT_FATAL((v >> 32) < 2);
        AT_ASSERT_EQ_U64(v & 0xffffffffu, next[v >> 32]);
        next[v >> 32]++;
    }
    AT_ASSERT_EQ_U64(next[0], CROSS_ROUNDS);
    AT_ASSERT_EQ_U64(next[1], CROSS_ROUNDS);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), AT_ECLOSED);
    at_chan_receiver_drop(c);
}
