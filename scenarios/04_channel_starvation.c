/* 04_channel_starvation - two ways a channel starves its tasks.
 *
 * "orphan-rx" (task 2) waits on a channel whose only sender belonged to
 * "producer" (task 3), which finished without sending and without dropping
 * it: the sender count stays 1 but nobody will ever send.
 * "consumer" (task 4) took one message from a bounded channel (capacity 1)
 * and then joins "flooder" (task 5), which is blocked sending into that
 * full channel: a two-task cycle through a channel and a join.
 * Checkpoint (quiet, live): the cycle 4 -> 5 -> 4 via join, channel-send. */
#include "scenario.h"

static at_chan *orphan, *pipe_ch;

typedef struct {
    AT_FRAME;
    int msg;
    at_chan_recv_fut recv;
} orphan_rx_state;

AT_ASYNC_FN(orphan_rx, orphan_rx_state)
{
    AT_BEGIN(orphan_rx_state);
    AT_AWAIT(at_chan_recv(&self->recv, orphan, &self->msg));
    AT_END;
}

static at_frame *orphan_rx(orphan_rx_state *s) { return AT_START(s, orphan_rx); }

/* Finishes at once and keeps (leaks) the channel's only sender. */
typedef struct {
    AT_FRAME;
} producer_state;

AT_ASYNC_FN(producer, producer_state)
{
    AT_BEGIN(producer_state);
    AT_END;
}

static at_frame *producer(producer_state *s) { return AT_START(s, producer); }

typedef struct {
    AT_FRAME;
    int n;
    at_chan_send_fut send;
} flood_state;

AT_ASYNC_FN(flood, flood_state)
{
    AT_BEGIN(flood_state);
    for (;;) {
        self->n++;
        AT_AWAIT(at_chan_send(&self->send, pipe_ch, &self->n));
        SCN_CHECK(self->send.status == 0);
    }
    AT_END;
}

static at_frame *flood(flood_state *s) { return AT_START(s, flood); }

typedef struct {
    AT_FRAME;
    at_join_handle flooder;
    int msg;
    at_join_fut join;
} consume_state;

/* Registers as the receiver (one try), then waits for the flooder to end
 * before reading on: the flooder cannot end while the channel is full. */
AT_ASYNC_FN(consume, consume_state)
{
    AT_BEGIN(consume_state);
    (void)at_chan_try_recv(pipe_ch, &self->msg);
    self->flooder = AT_SPAWN(NULL, "flooder", flood_state, flood);
    SCN_CHECK(self->flooder.task);
    AT_AWAIT(at_join(&self->join, self->flooder));
    AT_END;
}

static at_frame *consume(consume_state *s) { return AT_START(s, consume); }

typedef struct {
    AT_FRAME;
    at_join_handle rx, prod, consumer;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->rx = AT_SPAWN(NULL, "orphan-rx", orphan_rx_state, orphan_rx);
    self->prod = AT_SPAWN(NULL, "producer", producer_state, producer);
    self->consumer = AT_SPAWN(NULL, "consumer", consume_state, consume);
    SCN_CHECK(self->rx.task && self->prod.task && self->consumer.task);
    AT_AWAIT(at_join(&self->join, self->consumer));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    orphan = at_chan_new_unbounded(sizeof(int), NULL);
    pipe_ch = at_chan_new_bounded(sizeof(int), 1, NULL);
    SCN_CHECK(orphan && pipe_ch);
    scn_checkpoint_quiet1(rt, 5);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
