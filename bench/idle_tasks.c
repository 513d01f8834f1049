/* idle_tasks.c - a current-thread runtime holding N idle tasks, each
 * suspended 5 async frames deep in a notify wait (idle1 -> ... -> idle5 ->
 * at_notify_wait).
 *
 *   idle_tasks mem  [--n N]   print the resident memory per idle task
 *                             (RSS after the tasks suspended, minus RSS
 *                             before the first spawn, divided by N)
 *   idle_tasks hold [--n N]   suspend N tasks, print "READY <pid>" and stay
 *                             put (parked in at_block_on) until killed, for
 *                             gdb attach and gcore benchmarks
 *
 * The Go peer is bench/go/idle_goroutines.go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asynctrace.h"
#include "bench_util.h"

static at_notify release_all;

typedef struct {
    AT_FRAME;
    at_notify_wait_fut wait;
} idle5_state;

AT_ASYNC_FN(idle5, idle5_state)
{
    AT_BEGIN(idle5_state);
    AT_AWAIT(at_notify_wait(&self->wait, &release_all));
    AT_END;
}
static at_frame *idle5(idle5_state *s) { return AT_START(s, idle5); }

#define IDLE_LEVEL(n, next)                                                    \
    typedef struct {                                                           \
        AT_FRAME;                                                              \
        next##_state child;                                                    \
    } idle##n##_state;                                                         \
    AT_ASYNC_FN(idle##n, idle##n##_state)                                      \
    {                                                                          \
        AT_BEGIN(idle##n##_state);                                             \
        AT_AWAIT(next(&self->child));                                          \
        AT_END;                                                                \
    }                                                                          \
    static at_frame *idle##n(idle##n##_state *s) { return AT_START(s, idle##n); }

IDLE_LEVEL(4, idle5)
IDLE_LEVEL(3, idle4)
IDLE_LEVEL(2, idle3)
IDLE_LEVEL(1, idle2)

typedef struct {
    AT_FRAME;
    long i, n;
    int hold;
    uint64_t rss_before;
    union {
        at_yield_fut yield;
        at_notify_wait_fut wait;
    } aw;
    at_notify never;
} idle_main_state;

AT_ASYNC_FN(idle_main, idle_main_state)
{
    AT_BEGIN(idle_main_state);
    self->rss_before = bench_rss_bytes();
    for (self->i = 0; self->i < self->n; self->i++) {
        at_join_handle h = AT_SPAWN(NULL, "idle", idle1_state, idle1);
        if (!h.task)
            bench_die("spawn failed");
        at_task_detach(&h);
    }
    /* The run queue is FIFO: after one yield every task has suspended. */
    AT_AWAIT(at_yield(&self->aw.yield));
    if (self->hold) {
        printf("READY %d\n", (int)getpid());
        fflush(stdout);
        at_notify_init(&self->never);
        AT_AWAIT(at_notify_wait(&self->aw.wait, &self->never));
    } else {
        uint64_t after = bench_rss_bytes();
        printf("BENCH name=mem.idle_task_bytes value=%.1f unit=bytes "
               "size=\"%ld idle tasks, 5 frames deep, notify wait\"\n",
               (double)(after - self->rss_before) / (double)self->n, self->n);
        at_notify_all(&release_all);
    }
    AT_END;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "mem") && strcmp(argv[1], "hold"))) {
        fprintf(stderr, "usage: idle_tasks mem|hold [--n N]\n");
        return 2;
    }
    at_notify_init(&release_all);
    at_runtime *rt = at_runtime_new(NULL);
    if (!rt)
        bench_die("at_runtime_new failed");
    idle_main_state st;
    memset(&st, 0, sizeof st);
    st.n = bench_arg_int(argc, argv, "--n", 100000);
    st.hold = !strcmp(argv[1], "hold");
    if (st.n < 1)
        bench_die("--n must be positive");
    if (at_block_on(rt, AT_START(&st, idle_main), "idle-main") != 0)
        bench_die("block_on failed");
    at_runtime_free(rt);
    return 0;
}
