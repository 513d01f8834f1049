/* ct_bench.c - current-thread runtime throughput, against the Go peers in
 * bench/go/ (same workloads).
 *
 *  - spawn_join: one task spawns SPAWN_COUNT tasks (each Ready on its first
 *    poll), keeping every join handle, then joins them in spawn order.
 *  - pingpong: two tasks and two bounded channels of capacity 1; the pinger
 *    sends a number, the ponger receives it and sends it back, PING_COUNT
 *    round trips.
 *
 * Each workload runs --runs times on a fresh runtime; the median is printed
 * as a BENCH line (docs/performance.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asynctrace.h"
#include "bench_util.h"
#include "pingpong_tasks.h"

#define SPAWN_COUNT 1000000
#define PING_COUNT 1000000

/* ---- spawn and join ---- */

typedef struct {
    AT_FRAME;
    uint64_t *sum;
    uint64_t value;
} leaf_task_state;

AT_ASYNC_FN(leaf_task, leaf_task_state)
{
    AT_BEGIN(leaf_task_state);
    *self->sum += self->value;
    AT_END;
}
static at_frame *leaf_task(leaf_task_state *s, uint64_t *sum, uint64_t value)
{
    s->sum = sum;
    s->value = value;
    return AT_START(s, leaf_task);
}

typedef struct {
    AT_FRAME;
    long i, n;
    uint64_t sum;
    at_join_handle *h;
    at_join_fut join;
} spawner_state;

AT_ASYNC_FN(spawner, spawner_state)
{
    AT_BEGIN(spawner_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->h[self->i] = AT_SPAWN(NULL, "leaf", leaf_task_state, leaf_task, &self->sum,
                                    (uint64_t)self->i);
        if (!self->h[self->i].task)
            bench_die("spawn failed");
    }
    for (self->i = 0; self->i < self->n; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        if (self->join.status != 0)
            bench_die("join failed");
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

static double run_spawn_join(at_join_handle *handles)
{
    at_runtime *rt = at_runtime_new(NULL);
    if (!rt)
        bench_die("at_runtime_new failed");
    spawner_state st = {.n = SPAWN_COUNT, .h = handles};
    uint64_t t0 = bench_now_ns();
    if (at_block_on(rt, AT_START(&st, spawner), "spawner") != 0)
        bench_die("block_on failed");
    uint64_t t1 = bench_now_ns();
    if (st.sum != (uint64_t)SPAWN_COUNT * (SPAWN_COUNT - 1) / 2)
        bench_die("spawn_join: wrong sum");
    at_runtime_free(rt);
    return (double)(t1 - t0) / 1e6;
}

/* ---- ping-pong over two channels ---- */


typedef struct {
    AT_FRAME;
    at_join_handle pong;
    at_join_fut join;
    pong_state ping;
} pingpong_main_state;

static at_frame *pong_start(pong_state *s, at_chan *in, at_chan *out, long n)
{
    memset(s, 0, sizeof *s);
    s->in = in;
    s->out = out;
    s->n = n;
    return AT_START(s, ponger);
}

AT_ASYNC_FN(pingpong_main, pingpong_main_state)
{
    AT_BEGIN(pingpong_main_state);
    AT_AWAIT(AT_START(&self->ping, pinger));
    AT_AWAIT(at_join(&self->join, self->pong));
    at_join_handle_release(&self->pong);
    AT_END;
}

static double run_pingpong(void)
{
    at_runtime *rt = at_runtime_new(NULL);
    if (!rt)
        bench_die("at_runtime_new failed");
    at_chan *to_pong = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
    at_chan *to_ping = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
    if (!to_pong || !to_ping)
        bench_die("channel creation failed");
    pingpong_main_state st;
    memset(&st, 0, sizeof st);
    /* The ponger is spawned before block_on; it runs once block_on starts. */
    st.pong = AT_SPAWN(rt, "ponger", pong_state, pong_start, to_pong, to_ping, PING_COUNT);
    if (!st.pong.task)
        bench_die("spawn failed");
    st.ping.in = to_ping;
    st.ping.out = to_pong;
    st.ping.n = PING_COUNT;
    uint64_t t0 = bench_now_ns();
    if (at_block_on(rt, AT_START(&st, pingpong_main), "pinger") != 0)
        bench_die("block_on failed");
    uint64_t t1 = bench_now_ns();
    at_chan_sender_drop(to_pong);
    at_chan_receiver_drop(to_pong);
    at_chan_sender_drop(to_ping);
    at_chan_receiver_drop(to_ping);
    at_runtime_free(rt);
    return (double)(t1 - t0) / 1e6;
}

int main(int argc, char **argv)
{
    int runs = bench_arg_int(argc, argv, "--runs", 5);
    const char *only = bench_arg_str(argc, argv, "--only", "");
    double v[BENCH_MAX_RUNS];
    if (runs < 1 || runs > BENCH_MAX_RUNS)
        bench_die("--runs out of range");

    if (!*only || !strcmp(only, "spawn_join")) {
        at_join_handle *h = calloc(SPAWN_COUNT, sizeof *h);
        if (!h)
            bench_die("out of memory");
        for (int r = 0; r < runs; r++)
            v[r] = run_spawn_join(h);
        free(h);
        printf("BENCH name=ct.spawn_join_ms.1m value=%.2f unit=ms runs=%d "
               "size=\"%d tasks spawned then joined, current-thread\"\n",
               bench_median(v, runs), runs, SPAWN_COUNT);
    }
    if (!*only || !strcmp(only, "pingpong")) {
        for (int r = 0; r < runs; r++)
            v[r] = run_pingpong();
        printf("BENCH name=ct.pingpong_ms.1m value=%.2f unit=ms runs=%d "
               "size=\"%d round trips, 2 channels of capacity 1, current-thread\"\n",
               bench_median(v, runs), runs, PING_COUNT);
    }
    return 0;
}
