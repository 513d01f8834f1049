/* pingpong_tasks.h - the two tasks of the channel ping-pong benchmark,
 * shared by ct_bench.c (current-thread) and mt_bench.c (multi-thread) so
 * both flavors run exactly the same workload.  Include after bench_util.h. */
#ifndef BENCH_PINGPONG_TASKS_H
#define BENCH_PINGPONG_TASKS_H

#include "asynctrace.h"

typedef struct {
    AT_FRAME;
    at_chan *in, *out;
    long i, n;
    uint64_t msg;
    union {
        at_chan_send_fut send;
        at_chan_recv_fut recv;
    } aw;
} pong_state;

AT_ASYNC_FN(ponger, pong_state)
{
    AT_BEGIN(pong_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->in, &self->msg));
        if (self->aw.recv.status != 0)
            bench_die("pong: recv failed");
        AT_AWAIT(at_chan_send(&self->aw.send, self->out, &self->msg));
        if (self->aw.send.status != 0)
            bench_die("pong: send failed");
    }
    AT_END;
}

AT_ASYNC_FN(pinger, pong_state)
{
    AT_BEGIN(pong_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->msg = (uint64_t)self->i;
        AT_AWAIT(at_chan_send(&self->aw.send, self->out, &self->msg));
        if (self->aw.send.status != 0)
            bench_die("ping: send failed");
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->in, &self->msg));
        if (self->aw.recv.status != 0 || self->msg != (uint64_t)self->i)
            bench_die("ping: wrong reply");
    }
    AT_END;
}

#endif
