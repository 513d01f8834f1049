/* test_mt_steal.c - when the multi-thread flavor moves a task to another
 * worker (docs/runtime.md, "Stealing only what waits"): tasks that talk
 * through a channel stay on one worker while it keeps up with them, and a
 * worker stuck in a long poll loses its queued tasks to an idle one, and
 * so does one working through a long backlog.
 *
 * ASYNCTRACE_TEST_SCALE=N divides the message counts by N (the TSan run). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "asynctrace.h"
#include "cunit_main.h"
#include "test_support.h"

static at_runtime *mt_new(unsigned workers)
{
    return mt_runtime(workers, "steal-test");
}

static int32_t my_worker(void)
{
    return atomic_load(&at_task_current()->worker);
}

/* ---- Fan-in: producers stay with their consumer ---- */

#define PRODUCERS 8

typedef struct {
    AT_FRAME;
    at_chan *chan;
    uint64_t i, n, msg;
    at_chan_send_fut send;
} producer_state;

/* Each message carries the worker that sent it (low byte) and a sequence
 * number. */
AT_ASYNC_FN(producer, producer_state)
{
    AT_BEGIN(producer_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->msg = (self->i << 8) | (uint64_t)(my_worker() & 0xff);
        AT_AWAIT(at_chan_send(&self->send, self->chan, &self->msg));
        if (self->send.status != 0)
            break;
    }
    at_chan_sender_drop(self->chan);
    AT_END;
}

typedef struct {
    AT_FRAME;
    at_chan *chan;
    int i;
    uint64_t msg, received, same_worker;
    producer_state prod[PRODUCERS];
    at_join_handle h[PRODUCERS];
    union {
        at_chan_recv_fut recv;
        at_join_fut join;
    } aw;
} consumer_state;

AT_ASYNC_FN(consumer, consumer_state)
{
    AT_BEGIN(consumer_state);
    for (self->i = 0; self->i < PRODUCERS; self->i++) {
        if (self->i)
            at_chan_sender_clone(self->chan);
        self->prod[self->i].chan = self->chan;
        self->h[self->i] = at_spawn_frame(NULL, AT_START(&self->prod[self->i], producer),
                                          "producer");
    }
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->chan, &self->msg));
        if (self->aw.recv.status != 0)
            break;
        self->received++;
        if ((int32_t)(self->msg & 0xff) == my_worker())
            self->same_worker++;
    }
    for (self->i = 0; self->i < PRODUCERS; self->i++) {
        AT_AWAIT(at_join(&self->aw.join, self->h[self->i]));
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

/* Before stealing waited for a worker to fall behind, the idle worker took
 * the producers their consumer woke: with both workers on a core of their
 * own, 96-98 % of the messages crossed between workers (and the run took
 * ten times as long).  Now messages cross only after a worker was held up
 * longer than the stall limit (preempted by the system), so nearly all are
 * received on the worker that sent them.  (When the machine cannot give
 * both workers a core at once, any scheduler passes: only one runs.) */
AT_TEST(mt_fan_in_stays_on_one_worker)
{
    at_runtime *rt = mt_new(2);
    consumer_state *st = calloc(1, sizeof *st);
    uint64_t per = scale(25000);
    st->chan = at_chan_new_bounded(sizeof(uint64_t), 256, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st->chan);
    for (int i = 0; i < PRODUCERS; i++)
        st->prod[i].n = per;
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(st, consumer), "consumer"), 0);
    AT_ASSERT_EQ_U64(st->received, PRODUCERS * per);
    if (st->same_worker * 10 < st->received * 9)
        fprintf(stderr, "same worker for %llu of %llu messages\n",
                (unsigned long long)st->same_worker, (unsigned long long)st->received);
    /* Not under ThreadSanitizer (a scaled run): its polls are ten times
     * slower, so a worker's pace crosses the stall limit. */
    if (scale(10) == 10)
        CU_ASSERT_TRUE(st->same_worker * 10 >= st->received * 9);
    at_chan_receiver_drop(st->chan);
    free(st);
    at_runtime_free(rt);
}

/* ---- A worker stuck in a poll loses its queue ---- */

typedef struct {
    AT_FRAME;
    _Atomic int *ran;
    _Atomic int32_t *worker;
} mark_state;

AT_ASYNC_FN(mark, mark_state)
{
    AT_BEGIN(mark_state);
    atomic_store(self->worker, my_worker());
    atomic_store(self->ran, 1);
    AT_END;
}

typedef struct {
    AT_FRAME;
    _Atomic int ran;
    _Atomic int32_t marker_worker;
    int32_t spinner_worker;
    int seen_while_polling;
    at_join_handle h;
    mark_state m;
    at_join_fut join;
} spinner_state;

/* Spawns a task onto its own worker's queue, then does not return from its
 * poll until that task ran (or 10 s passed). */
AT_ASYNC_FN(spinner, spinner_state)
{
    AT_BEGIN(spinner_state);
    self->spinner_worker = my_worker();
    self->m.ran = &self->ran;
    self->m.worker = &self->marker_worker;
    self->h = at_spawn_frame(NULL, AT_START(&self->m, mark), "marker");
    for (uint64_t end = at_now_ns() + 10 * AT_SEC; at_now_ns() < end;)
        if (atomic_load(&self->ran)) {
            self->seen_while_polling = 1;
            break;
        }
    AT_AWAIT(at_join(&self->join, self->h));
    at_join_handle_release(&self->h);
    AT_END;
}

AT_TEST(mt_stuck_poll_loses_its_queued_task)
{
    at_runtime *rt = mt_new(2);
    spinner_state st;
    memset(&st, 0, sizeof st);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, spinner), "spinner"), 0);
    AT_ASSERT_EQ_INT(st.seen_while_polling, 1);
    CU_ASSERT_TRUE(st.spinner_worker == 0 || st.spinner_worker == 1);
    AT_ASSERT_EQ_INT(atomic_load(&st.marker_worker), 1 - st.spinner_worker);
    at_runtime_free(rt);
}

/* ---- A backlog of long polls spreads ---- */

#define BACKLOG 100

typedef struct {
    AT_FRAME;
    _Atomic unsigned *per_worker;
} busy_state;

/* 100 us of work in one poll: shorter than the stall limit, so the worker
 * keeps taking tasks from its queue. */
AT_ASYNC_FN(busy, busy_state)
{
    AT_BEGIN(busy_state);
    for (uint64_t end = at_now_ns() + 100 * AT_US; at_now_ns() < end;)
        ;
    atomic_fetch_add(&self->per_worker[my_worker() & 1], 1);
    AT_END;
}

typedef struct {
    AT_FRAME;
    int i;
    _Atomic unsigned per_worker[2];
    busy_state b[BACKLOG];
    at_join_handle h[BACKLOG];
    at_join_fut join;
} backlog_state;

AT_ASYNC_FN(backlog, backlog_state)
{
    AT_BEGIN(backlog_state);
    for (self->i = 0; self->i < BACKLOG; self->i++) {
        self->b[self->i].per_worker = self->per_worker;
        self->h[self->i] = at_spawn_frame(NULL, AT_START(&self->b[self->i], busy), "busy");
    }
    for (self->i = 0; self->i < BACKLOG; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

/* 10 ms of work queued on one worker, which never stalls: once the head
 * has waited AT__STEAL_AGE_NS (2 ms) the other worker takes half. */
AT_TEST(mt_backlog_of_long_polls_spreads)
{
    at_runtime *rt = mt_new(2);
    backlog_state *st = calloc(1, sizeof *st);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(st, backlog), "backlog"), 0);
    unsigned a = atomic_load(&st->per_worker[0]), b = atomic_load(&st->per_worker[1]);
    AT_ASSERT_EQ_INT(a + b, BACKLOG);
    if (a < 10 || b < 10)
        fprintf(stderr, "tasks per worker: %u and %u\n", a, b);
    CU_ASSERT_TRUE(a >= 10 && b >= 10);
    free(st);
    at_runtime_free(rt);
}
