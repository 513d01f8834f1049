/* static_sleeper.c - a program that knows nothing about dumps: it creates a
 * runtime and sleeps in a task, printing "ready" once it runs.  Linked
 * statically against libasynctrace.a, it proves the environment's dump
 * signal works without any reference to a dump function
 * (tests/safety/check_static_dump.sh). */
#include <stdio.h>

#include "asynctrace.h"

typedef struct {
    AT_FRAME;
    int i;
    at_sleep_fut nap;
} sleeper_state;

AT_ASYNC_FN(sleeper, sleeper_state)
{
    AT_BEGIN(sleeper_state);
    printf("ready\n");
    fflush(stdout);
    for (self->i = 0; self->i < 3000; self->i++) /* 30 s at most */
        AT_AWAIT(at_sleep(&self->nap, 10 * AT_MS));
    AT_END;
}

int main(void)
{
    at_runtime *rt = at_runtime_new(NULL);
    if (!rt)
        return 1;
    sleeper_state st;
    int r = at_block_on(rt, AT_START(&st, sleeper), "sleeper");
    at_runtime_free(rt);
    return r == 0 ? 0 : 1;
}
