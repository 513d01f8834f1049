/* 22_leaked_sender - a receiver whose only sender handle was leaked by a
 * task that finished.
 *
 * main (task 1) creates `jobs` and hands its sender to "producer"
 * (task 2): the producer clones a handle, main drops its own, and the
 * producer finishes without sending or dropping its handle (handle kept:
 * complete).  "worker" (task 3) waits on `jobs` forever, and main joins the
 * worker.  The sender count stays 1, so the channel never closes; once the
 * runtime records which task holds each sender handle, info async-diagnose
 * proves the worker stuck (its only sender is held by a complete task).
 * Checkpoint (quiet, live). */
#include "scenario.h"

static at_chan *jobs;

typedef struct {
    AT_FRAME;
} producer_state;

/* The bug on show: takes a sender handle and never drops it. */
AT_ASYNC_FN(producer, producer_state)
{
    AT_BEGIN(producer_state);
    at_chan_sender_clone(jobs);
    AT_END;
}

static at_frame *producer(producer_state *s) { return AT_START(s, producer); }

typedef struct {
    AT_FRAME;
    int job;
    at_chan_recv_fut recv;
} worker_state;

AT_ASYNC_FN(worker, worker_state)
{
    AT_BEGIN(worker_state);
    AT_AWAIT(at_chan_recv(&self->recv, jobs, &self->job)); /* @await:worker */
    AT_END;
}

static at_frame *worker(worker_state *s) { return AT_START(s, worker); }

typedef struct {
    AT_FRAME;
    at_join_handle producer, worker;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->producer = AT_SPAWN(NULL, "producer", producer_state, producer);
    SCN_CHECK(self->producer.task);
    AT_AWAIT(at_join(&self->join, self->producer));
    at_chan_sender_drop(jobs); /* main's own handle: only the producer's is left */
    self->worker = AT_SPAWN(NULL, "worker", worker_state, worker);
    SCN_CHECK(self->worker.task);
    AT_AWAIT(at_join(&self->join, self->worker));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    jobs = at_chan_new_bounded(sizeof(int), 4, NULL);
    SCN_CHECK(jobs);
    scn_checkpoint_quiet1(rt, 3);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
