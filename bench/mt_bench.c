/* mt_bench.c - the multi-thread runtime against Go goroutines (peers in
 * bench/go/, same workloads, written the natural way in each):
 *
 *  - spawn_join: one task spawns 1,000,000 tasks (each Ready on its first
 *    poll) keeping every join handle, then joins them in spawn order;
 *  - pingpong: two tasks, two bounded channels of capacity 1, 1,000,000
 *    round trips;
 *  - fanin: 8 producer tasks send 125,000 numbers each into one bounded
 *    channel of capacity 256; one consumer receives all 1,000,000 and
 *    checks every producer's sequence.
 *
 * --flavor mt (default: a multi-thread runtime with one worker per CPU) or
 * ct (current-thread).  Each workload runs --runs times on a fresh runtime;
 * the median is printed as a BENCH line (docs/performance.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asynctrace.h"
#include "bench_util.h"
#include "pingpong_tasks.h"

#define SPAWN_COUNT 1000000
#define PING_COUNT 1000000
#define FANIN_PRODUCERS 8
#define FANIN_COUNT 1000000

static at_flavor bench_flavor = AT_FLAVOR_MULTI_THREAD;

static at_runtime *bench_runtime(void)
{
    at_runtime_options o = {bench_flavor, 0, "bench"};
    at_runtime *rt = at_runtime_new(&o);
    if (!rt)
        bench_die("at_runtime_new failed");
    return rt;
}

/* ---- spawn and join ---- */

typedef struct {
    AT_FRAME;
    uint64_t *out;
    uint64_t value;
} leaf_task_state;

AT_ASYNC_FN(leaf_task, leaf_task_state)
{
    AT_BEGIN(leaf_task_state);
    *self->out = self->value;
    AT_END;
}
static at_frame *leaf_task(leaf_task_state *s, uint64_t *out, uint64_t value)
{
    s->out = out;
    s->value = value;
    return AT_START(s, leaf_task);
}

typedef struct {
    AT_FRAME;
    long i, n;
    uint64_t *out;
    at_join_handle *h;
    at_join_fut join;
} spawner_state;

AT_ASYNC_FN(spawner, spawner_state)
{
    AT_BEGIN(spawner_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->h[self->i] = AT_SPAWN(NULL, "leaf", leaf_task_state, leaf_task,
                                    &self->out[self->i], (uint64_t)self->i);
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

static double run_spawn_join(at_join_handle *handles, uint64_t *out)
{
    at_runtime *rt = bench_runtime();
    spawner_state st = {.n = SPAWN_COUNT, .h = handles, .out = out};
    uint64_t t0 = bench_now_ns();
    if (at_block_on(rt, AT_START(&st, spawner), "spawner") != 0)
        bench_die("block_on failed");
    uint64_t t1 = bench_now_ns();
    uint64_t sum = 0;
    for (long i = 0; i < SPAWN_COUNT; i++)
        sum += out[i];
    if (sum != (uint64_t)SPAWN_COUNT * (SPAWN_COUNT - 1) / 2)
        bench_die("spawn_join: wrong sum");
    at_runtime_free(rt);
    return (double)(t1 - t0) / 1e6;
}

/* ---- ping-pong ---- */


typedef struct {
    AT_FRAME;
    at_join_handle pong;
    at_join_fut join;
    pong_state ping, pong_st;
} pingpong_main_state;

AT_ASYNC_FN(pingpong_main, pingpong_main_state)
{
    AT_BEGIN(pingpong_main_state);
    self->pong = at_spawn_frame(NULL, AT_START(&self->pong_st, ponger), "ponger");
    if (!self->pong.task)
        bench_die("spawn failed");
    AT_AWAIT(AT_START(&self->ping, pinger));
    AT_AWAIT(at_join(&self->join, self->pong));
    at_join_handle_release(&self->pong);
    AT_END;
}

static double run_pingpong(void)
{
    at_runtime *rt = bench_runtime();
    at_chan *to_pong = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
    at_chan *to_ping = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
    if (!to_pong || !to_ping)
        bench_die("channel creation failed");
    pingpong_main_state *st = calloc(1, sizeof *st);
    st->pong_st = (pong_state){.in = to_pong, .out = to_ping, .n = PING_COUNT};
    st->ping = (pong_state){.in = to_ping, .out = to_pong, .n = PING_COUNT};
    uint64_t t0 = bench_now_ns();
    if (at_block_on(rt, AT_START(st, pingpong_main), "pinger") != 0)
        bench_die("block_on failed");
    uint64_t t1 = bench_now_ns();
    at_chan_sender_drop(to_pong);
    at_chan_receiver_drop(to_pong);
    at_chan_sender_drop(to_ping);
    at_chan_receiver_drop(to_ping);
    free(st);
    at_runtime_free(rt);
    return (double)(t1 - t0) / 1e6;
}

/* ---- fan-in ---- */

typedef struct {
    AT_FRAME;
    at_chan *chan;
    uint64_t p, i, n, msg;
    at_chan_send_fut send;
} producer_state;

AT_ASYNC_FN(producer, producer_state)
{
    AT_BEGIN(producer_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->msg = (self->p << 32) | self->i;
        AT_AWAIT(at_chan_send(&self->send, self->chan, &self->msg));
        if (self->send.status != 0)
            bench_die("fanin: send failed");
    }
    at_chan_sender_drop(self->chan);
    AT_END;
}

typedef struct {
    AT_FRAME;
    at_chan *chan;
    int i;
    uint64_t next[FANIN_PRODUCERS], received, msg;
    producer_state prod[FANIN_PRODUCERS];
    at_join_handle h[FANIN_PRODUCERS];
    union {
        at_chan_recv_fut recv;
        at_join_fut join;
    } aw;
} fanin_state;

AT_ASYNC_FN(fanin, fanin_state)
{
    AT_BEGIN(fanin_state);
    for (self->i = 0; self->i < FANIN_PRODUCERS; self->i++) {
        if (self->i)
            at_chan_sender_clone(self->chan);
        producer_state *p = &self->prod[self->i];
        p->chan = self->chan;
        p->p = (uint64_t)self->i;
        p->n = FANIN_COUNT / FANIN_PRODUCERS;
        self->h[self->i] = at_spawn_frame(NULL, AT_START(p, producer), "producer");
    }
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->chan, &self->msg));
        if (self->aw.recv.status != 0)
            break;
        uint64_t p = self->msg >> 32;
        if (p >= FANIN_PRODUCERS || self->next[p] != (self->msg & 0xffffffffu))
            bench_die("fanin: message out of order");
        self->next[p]++;
        self->received++;
    }
    for (self->i = 0; self->i < FANIN_PRODUCERS; self->i++) {
        AT_AWAIT(at_join(&self->aw.join, self->h[self->i]));
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

static double run_fanin(void)
{
    at_runtime *rt = bench_runtime();
    fanin_state *st = calloc(1, sizeof *st);
    st->chan = at_chan_new_bounded(sizeof(uint64_t), 256, NULL);
    if (!st->chan)
        bench_die("channel creation failed");
    uint64_t t0 = bench_now_ns();
    if (at_block_on(rt, AT_START(st, fanin), "consumer") != 0)
        bench_die("block_on failed");
    uint64_t t1 = bench_now_ns();
    if (st->received != FANIN_COUNT)
        bench_die("fanin: messages lost");
    at_chan_receiver_drop(st->chan);
    free(st);
    at_runtime_free(rt);
    return (double)(t1 - t0) / 1e6;
}

int main(int argc, char **argv)
{
    int runs = bench_arg_int(argc, argv, "--runs", 5);
    const char *only = bench_arg_str(argc, argv, "--only", "");
    const char *flavor = bench_arg_str(argc, argv, "--flavor", "mt");
    double v[BENCH_MAX_RUNS];
    if (runs < 1 || runs > BENCH_MAX_RUNS)
        bench_die("--runs out of range");
    if (!strcmp(flavor, "ct"))
        bench_flavor = AT_FLAVOR_CURRENT_THREAD;
    else if (strcmp(flavor, "mt"))
        bench_die("--flavor is mt or ct");
    const char *fname = bench_flavor == AT_FLAVOR_MULTI_THREAD ? "multi-thread" : "current-thread";
    long workers = bench_flavor == AT_FLAVOR_MULTI_THREAD ? sysconf(_SC_NPROCESSORS_ONLN) : 1;

    if (!*only || !strcmp(only, "spawn_join")) {
        at_join_handle *h = calloc(SPAWN_COUNT, sizeof *h);
        uint64_t *out = calloc(SPAWN_COUNT, sizeof *out);
        if (!h || !out)
            bench_die("out of memory");
        for (int r = 0; r < runs; r++)
            v[r] = run_spawn_join(h, out);
        free(h);
        free(out);
        printf("BENCH name=%s.spawn_join_ms.1m value=%.2f unit=ms runs=%d workers=%ld "
               "size=\"%d tasks spawned then joined, %s\"\n",
               flavor, bench_median(v, runs), runs, workers, SPAWN_COUNT, fname);
    }
    if (!*only || !strcmp(only, "pingpong")) {
        for (int r = 0; r < runs; r++)
            v[r] = run_pingpong();
        printf("BENCH name=%s.pingpong_ms.1m value=%.2f unit=ms runs=%d workers=%ld "
               "size=\"%d round trips, 2 channels of capacity 1, %s\"\n",
               flavor, bench_median(v, runs), runs, workers, PING_COUNT, fname);
    }
    if (!*only || !strcmp(only, "fanin")) {
        for (int r = 0; r < runs; r++)
            v[r] = run_fanin();
        printf("BENCH name=%s.fanin_ms.1m value=%.2f unit=ms runs=%d workers=%ld "
               "size=\"%d producers x %d messages into 1 channel of capacity 256, %s\"\n",
               flavor, bench_median(v, runs), runs, workers, FANIN_PRODUCERS,
               FANIN_COUNT / FANIN_PRODUCERS, fname);
    }
    return 0;
}
