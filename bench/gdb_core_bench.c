/* gdb_core_bench.c - the program the GDB extension's benchmark reads: N idle
 * tasks (default 100,000), each suspended 5 frames deep (four async
 * functions and a sleep leaf), then a checkpoint: it prints "ready <pid>"
 * and stays put (the benchmark script kills it).  bench/gdb_core_bench.py
 * makes a core of it and times `info async-tasks --json` on that core. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "asynctrace.h"

typedef struct {
    AT_FRAME;
    at_sleep_fut sleep;
    uint64_t ns;
} level4_state;

AT_ASYNC_FN(level4, level4_state)
{
    AT_BEGIN(level4_state);
    AT_AWAIT(at_sleep(&self->sleep, self->ns));
    AT_END;
}
static at_frame *level4(level4_state *s, uint64_t ns)
{
    s->ns = ns;
    return AT_START(s, level4);
}

#define LEVEL(name, inner_type, inner)                                         \
    typedef struct {                                                           \
        AT_FRAME;                                                              \
        inner_type in;                                                         \
        uint64_t ns;                                                           \
    } name##_state;                                                            \
    AT_ASYNC_FN(name, name##_state)                                            \
    {                                                                          \
        AT_BEGIN(name##_state);                                                \
        AT_AWAIT(inner(&self->in, self->ns));                                  \
        AT_END;                                                                \
    }                                                                          \
    static at_frame *name(name##_state *s, uint64_t ns)                        \
    {                                                                          \
        s->ns = ns;                                                            \
        return AT_START(s, name);                                              \
    }

LEVEL(level3, level4_state, level4)
LEVEL(level2, level3_state, level3)
LEVEL(level1, level2_state, level2)

typedef struct {
    AT_FRAME;
    long n, i;
    at_yield_fut y;
    at_sleep_fut sleep;
} main_state;

AT_ASYNC_FN(bench_main, main_state)
{
    AT_BEGIN(main_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        at_join_handle h = AT_SPAWN(NULL, "worker", level1_state, level1,
                                    3600 * AT_SEC + (uint64_t)self->i * AT_MS);
        if (!h.task) {
            fprintf(stderr, "spawn failed at %ld\n", self->i);
            exit(2);
        }
        at_join_handle_release(&h);
    }
    /* One yield: every task spawned before it runs once, to its sleep. */
    AT_AWAIT(at_yield(&self->y));
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    AT_AWAIT(at_sleep(&self->sleep, 7200 * AT_SEC));
    AT_END;
}

int main(int argc, char **argv)
{
    main_state st = {.n = argc > 1 ? atol(argv[1]) : 100000};
    at_runtime *rt = at_runtime_new(NULL);
    if (!rt)
        return 2;
    at_block_on(rt, AT_START(&st, bench_main), "bench");
    return 0;
}
