/* frames_bench.c - what the persistent await frames cost.
 *
 * Built twice by mk/bench.mk: against the normal library, and with
 * -DAT_BENCH_NO_FRAMES against a copy of the library built the same way (the
 * await macros then skip the debugger bookkeeping, see future.h).  The
 * driver runs both binaries alternately and compares them.
 *
 * Two workloads, each timed --runs times in thread CPU time (median
 * printed; the runtime is single-threaded, and CPU time keeps other
 * processes on the machine out of an A/B comparison):
 *  - await: one task awaits an async function that is Ready at once,
 *    AWAIT_COUNT times: frame init + link + poll + unlink per await.
 *  - yield8: YIELD_TASKS tasks; each runs YIELD_ROUNDS rounds of an await
 *    chain 8 async frames deep whose innermost frame yields YIELD_PER_CHAIN
 *    times.  Every yield re-polls the task through all 8 frames.
 *
 * Prints BENCH lines (docs/performance.md); ids get ".noframes" appended in
 * the benchmark-only build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asynctrace.h"
#include "bench_util.h"

#ifdef AT_BENCH_NO_FRAMES
#define ID_SUFFIX ".noframes"
#else
#define ID_SUFFIX ""
#endif

#define AWAIT_COUNT 10000000ull
#define YIELD_TASKS 100
#define YIELD_ROUNDS 1250
#define YIELD_PER_CHAIN 4

/* ---- await: a Ready-at-once child awaited in a loop ---- */

typedef struct {
    AT_FRAME;
    uint64_t value;
} ready_state;

AT_ASYNC_FN(ready_fn, ready_state)
{
    AT_BEGIN(ready_state);
    self->value++;
    AT_END;
}
static at_frame *ready_fn(ready_state *s) { s->value = 0; return AT_START(s, ready_fn); }

typedef struct {
    AT_FRAME;
    uint64_t i, n, sum;
    ready_state child;
} await_loop_state;

AT_ASYNC_FN(await_loop, await_loop_state)
{
    AT_BEGIN(await_loop_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        AT_AWAIT(ready_fn(&self->child));
        self->sum += self->child.value;
    }
    AT_END;
}
static at_frame *await_loop(await_loop_state *s, uint64_t n)
{
    s->i = 0;
    s->n = n;
    s->sum = 0;
    return AT_START(s, await_loop);
}

static double run_await(void)
{
    at_runtime *rt = at_runtime_new(NULL);
    if (!rt)
        bench_die("at_runtime_new failed");
    await_loop_state st;
    uint64_t t0 = bench_thread_cpu_ns();
    if (at_block_on(rt, await_loop(&st, AWAIT_COUNT), "await-loop") != 0)
        bench_die("block_on failed");
    uint64_t t1 = bench_thread_cpu_ns();
    if (st.sum != AWAIT_COUNT)
        bench_die("await loop: wrong sum");
    at_runtime_free(rt);
    return (double)(t1 - t0) / (double)AWAIT_COUNT;
}

/* ---- yield8: 8 frames deep, the innermost yields ---- */

typedef struct {
    AT_FRAME;
    int i;
    at_yield_fut yield;
} level8_state;

AT_ASYNC_FN(level8, level8_state)
{
    AT_BEGIN(level8_state);
    for (self->i = 0; self->i < YIELD_PER_CHAIN; self->i++)
        AT_AWAIT(at_yield(&self->yield));
    AT_END;
}
static at_frame *level8(level8_state *s) { return AT_START(s, level8); }

/* Levels 7..2 each await the next level once. */
#define LEVEL(n, next)                                                         \
    typedef struct {                                                           \
        AT_FRAME;                                                              \
        next##_state child;                                                    \
    } level##n##_state;                                                        \
    AT_ASYNC_FN(level##n, level##n##_state)                                    \
    {                                                                          \
        AT_BEGIN(level##n##_state);                                            \
        AT_AWAIT(next(&self->child));                                          \
        AT_END;                                                                \
    }                                                                          \
    static at_frame *level##n(level##n##_state *s) { return AT_START(s, level##n); }

LEVEL(7, level8)
LEVEL(6, level7)
LEVEL(5, level6)
LEVEL(4, level5)
LEVEL(3, level4)
LEVEL(2, level3)

typedef struct {
    AT_FRAME;
    int round;
    level2_state child;
} level1_state;

AT_ASYNC_FN(level1, level1_state)
{
    AT_BEGIN(level1_state);
    for (self->round = 0; self->round < YIELD_ROUNDS; self->round++)
        AT_AWAIT(level2(&self->child));
    AT_END;
}
static at_frame *level1(level1_state *s) { return AT_START(s, level1); }

typedef struct {
    AT_FRAME;
    int i;
    at_join_handle h[YIELD_TASKS];
    at_join_fut join;
} yield_driver_state;

AT_ASYNC_FN(yield_driver, yield_driver_state)
{
    AT_BEGIN(yield_driver_state);
    for (self->i = 0; self->i < YIELD_TASKS; self->i++) {
        self->h[self->i] = AT_SPAWN(NULL, "yield8", level1_state, level1);
        if (!self->h[self->i].task)
            bench_die("spawn failed");
    }
    for (self->i = 0; self->i < YIELD_TASKS; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        if (self->join.status != 0)
            bench_die("join failed");
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}
static at_frame *yield_driver(yield_driver_state *s) { return AT_START(s, yield_driver); }

static double run_yield8(void)
{
    at_runtime *rt = at_runtime_new(NULL);
    if (!rt)
        bench_die("at_runtime_new failed");
    yield_driver_state st;
    uint64_t t0 = bench_thread_cpu_ns();
    if (at_block_on(rt, yield_driver(&st), "yield-driver") != 0)
        bench_die("block_on failed");
    uint64_t t1 = bench_thread_cpu_ns();
    at_runtime_free(rt);
    return (double)(t1 - t0) / 1e6;
}

int main(int argc, char **argv)
{
    int runs = bench_arg_int(argc, argv, "--runs", 7);
    const char *only = bench_arg_str(argc, argv, "--only", "");
    double v[BENCH_MAX_RUNS];
    if (runs < 1 || runs > BENCH_MAX_RUNS)
        bench_die("--runs out of range");

    if (!*only || !strcmp(only, "await")) {
        run_await(); /* warm-up */
        for (int r = 0; r < runs; r++)
            v[r] = run_await();
        printf("BENCH name=frames.await_ns%s value=%.3f unit=ns runs=%d "
               "size=\"%llu awaits of a Ready async fn\"\n",
               ID_SUFFIX, bench_median(v, runs), runs, AWAIT_COUNT);
    }
    if (!*only || !strcmp(only, "yield8")) {
        run_yield8();
        for (int r = 0; r < runs; r++)
            v[r] = run_yield8();
        printf("BENCH name=frames.yield8_ms%s value=%.3f unit=ms runs=%d "
               "size=\"%d tasks x %d rounds x %d yields, 8 frames deep\"\n",
               ID_SUFFIX, bench_median(v, runs), runs, YIELD_TASKS, YIELD_ROUNDS,
               YIELD_PER_CHAIN);
    }
    return 0;
}
