/* trace_bench.c - what live dumps cost.
 *
 *  trace.leaf_ns: one at_trace_leaf call with no collector installed (the
 *    price every leaf poll pays), in ns per call;
 *  trace.live_dump_us_per_task.{10k,100k}: a live dump (at_dump_tasks) of a
 *    runtime of 10,000 / 100,000 idle tasks, each suspended 5 async frames
 *    deep in a notify wait, in microseconds per task: snapshot, trace poll
 *    of every task (unwinding), call-site decoding and symbolisation, from
 *    the request to the result;
 *  trace.live_dump_phase_us_per_task.{snapshot,trace,symbolize}.100k: where
 *    that time goes (informative).
 *
 * Prints BENCH lines (median of the runs) for bench/run_all.
 *   trace_bench [--runs N] [--only leaf|dump] */
#include <string.h>

#include "asynctrace.h"
#include "bench_util.h"
#include "trace/trace_internal.h" /* at__live_dump_last: phases */

#define LEAF_CALLS 100000000

/* ---- at_trace_leaf with no collector ---- */

typedef struct {
    AT_FRAME;
    uint64_t calls, hits, ns;
} leaf_loop_state;

AT_ASYNC_FN(leaf_loop, leaf_loop_state)
{
    AT_BEGIN(leaf_loop_state);
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < self->calls; i++)
        self->hits += (uint64_t)at_trace_leaf(at__cx);
    self->ns = bench_now_ns() - t0;
    AT_END;
}

static double run_leaf(at_runtime *rt)
{
    leaf_loop_state st = {.calls = LEAF_CALLS};
    if (at_block_on(rt, AT_START(&st, leaf_loop), "leaf-loop") != 0 || st.hits)
        bench_die("leaf loop failed");
    return (double)st.ns / (double)st.calls;
}

/* ---- Idle tasks 5 async frames deep ---- */

static at_notify never;

typedef struct {
    AT_FRAME;
    at_notify_wait_fut wait;
} d5_state;
AT_ASYNC_FN(d5, d5_state)
{
    AT_BEGIN(d5_state);
    AT_AWAIT(at_notify_wait(&self->wait, &never));
    AT_END;
}
#define DEPTH_FN(name, child_type, child_name)                                 \
    typedef struct {                                                           \
        AT_FRAME;                                                              \
        child_type child;                                                      \
    } name##_state;                                                            \
    AT_ASYNC_FN(name, name##_state)                                            \
    {                                                                          \
        AT_BEGIN(name##_state);                                                \
        AT_AWAIT(AT_START(&self->child, child_name));                          \
        AT_END;                                                                \
    }
DEPTH_FN(d4, d5_state, d5)
DEPTH_FN(d3, d4_state, d4)
DEPTH_FN(d2, d3_state, d3)
DEPTH_FN(d1, d2_state, d2)
static at_frame *d1(d1_state *s) { return AT_START(s, d1); }

typedef struct {
    AT_FRAME;
    int tasks, runs, r, i;
    at_join_handle *h;
    double *us, *phase[3];
    int failed;
    union {
        at_yield_fut y;
        at_dump_fut dump;
    } aw;
} dump_main_state;

AT_ASYNC_FN(dump_main, dump_main_state)
{
    AT_BEGIN(dump_main_state);
    for (self->i = 0; self->i < self->tasks; self->i++) {
        self->h[self->i] = AT_SPAWN(NULL, "idle", d1_state, d1);
        if (!self->h[self->i].task)
            bench_die("spawn failed");
    }
    AT_AWAIT(at_yield(&self->aw.y)); /* every task polled once: idle */
    for (self->r = 0; self->r < self->runs; self->r++) {
        {
            uint64_t t0 = bench_now_ns();
            self->us[self->r] = (double)t0; /* start, kept across the await */
        }
        AT_AWAIT(at_dump_tasks(&self->aw.dump));
        {
            uint64_t t1 = bench_now_ns();
            at_dump *d = self->aw.dump.result;
            size_t traced = 0;
            for (size_t k = 0; d && k < d->nruntimes; k++)
                for (size_t j = 0; j < d->runtimes[k].ntasks; j++)
                    traced += d->runtimes[k].tasks[j].traced &&
                              d->runtimes[k].tasks[j].nbacktraces == 1 &&
                              d->runtimes[k].tasks[j].backtraces[0].nframes == 6;
            if (traced != (size_t)self->tasks)
                self->failed = 1;
            self->us[self->r] = ((double)t1 - self->us[self->r]) / 1e3 / self->tasks;
            self->phase[0][self->r] = at__live_dump_last.snapshot_ns / 1e3 / self->tasks;
            self->phase[1][self->r] = at__live_dump_last.trace_ns / 1e3 / self->tasks;
            self->phase[2][self->r] = at__live_dump_last.symbolize_ns / 1e3 / self->tasks;
            at_dump_free(d);
        }
        AT_AWAIT(at_yield(&self->aw.y)); /* the traced tasks' normal polls */
    }
    for (self->i = 0; self->i < self->tasks; self->i++) {
        at_task_abort(self->h[self->i]);
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

static double run_dump(int tasks, int runs, double phases[3])
{
    at_runtime *rt = at_runtime_new(NULL);
    if (!rt)
        bench_die("runtime");
    dump_main_state st;
    memset(&st, 0, sizeof(st));
    st.tasks = tasks;
    st.runs = runs;
    st.h = calloc((size_t)tasks, sizeof(*st.h));
    st.us = calloc((size_t)runs, sizeof(double));
    for (int p = 0; p < 3; p++)
        st.phase[p] = calloc((size_t)runs, sizeof(double));
    if (!st.h || !st.us || !st.phase[0] || !st.phase[1] || !st.phase[2])
        bench_die("out of memory");
    if (at_block_on(rt, AT_START(&st, dump_main), "main") != 0 || st.failed)
        bench_die("live dump did not trace every task 6 frames deep");
    double med = bench_median(st.us, runs);
    for (int p = 0; p < 3; p++) {
        phases[p] = bench_median(st.phase[p], runs);
        free(st.phase[p]);
    }
    at_runtime_free(rt);
    free(st.h);
    free(st.us);
    return med;
}

int main(int argc, char **argv)
{
    int runs = bench_arg_int(argc, argv, "--runs", 5);
    const char *only = bench_arg_str(argc, argv, "--only", "");
    if (runs < 1 || runs > BENCH_MAX_RUNS)
        bench_die("--runs out of range");
    at_notify_init(&never);
    if (!*only || !strcmp(only, "leaf")) {
        at_runtime *rt = at_runtime_new(NULL);
        double v[BENCH_MAX_RUNS];
        for (int r = 0; r < runs; r++)
            v[r] = run_leaf(rt);
        at_runtime_free(rt);
        printf("BENCH name=trace.leaf_ns value=%.3f unit=ns runs=%d "
               "size=\"%d calls of at_trace_leaf, no collector\"\n",
               bench_median(v, runs), runs, LEAF_CALLS);
        fflush(stdout);
    }
    if (!*only || !strcmp(only, "dump")) {
        static const int sizes[] = {10000, 100000};
        static const char *const labels[] = {"10k", "100k"};
        static const char *const phase_names[] = {"snapshot", "trace", "symbolize"};
        for (int s = 0; s < 2; s++) {
            double phases[3];
            double v = run_dump(sizes[s], runs, phases);
            printf("BENCH name=trace.live_dump_us_per_task.%s value=%.3f unit=us runs=%d "
                   "size=\"%d idle tasks, 5 async frames deep, current-thread\"\n",
                   labels[s], v, runs, sizes[s]);
            for (int p = 0; p < 3; p++)
                printf("BENCH name=trace.live_dump_phase_us_per_task.%s.%s value=%.3f unit=us "
                       "runs=%d size=\"%s part of the dump above\"\n",
                       phase_names[p], labels[s], phases[p], runs, phase_names[p]);
            fflush(stdout);
        }
    }
    return 0;
}
