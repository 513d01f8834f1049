/* 09_nested_block_on - a task of one runtime drives a second runtime with
 * at_block_on inside its own poll: two root frames on one thread.
 *
 * Runtime 1: main (task 1) joins "bridge" (task 2); the bridge's poll calls
 * at_block_on(runtime 2, inner main).  Runtime 2: "inner" (its block_on
 * task) spawns "inner-sleeper" and then blocks in read() on a pipe inside
 * its poll.  Offline only: the thread's roots are the inner task and the
 * bridge, innermost first. */
#include <unistd.h>

#include "scenario.h"

static int pipe_fds[2];
static at_runtime *inner_rt;

typedef struct {
    AT_FRAME;
    at_sleep_fut nap;
} nap_state;

AT_ASYNC_FN(inner_nap, nap_state)
{
    AT_BEGIN(nap_state);
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    AT_END;
}

static at_frame *inner_nap(nap_state *s) { return AT_START(s, inner_nap); }

typedef struct {
    AT_FRAME;
    at_join_handle sleeper;
    char byte;
    at_yield_fut yield;
} inner_state;

AT_ASYNC_FN(inner_main, inner_state)
{
    AT_BEGIN(inner_state);
    self->sleeper = AT_SPAWN(NULL, "inner-sleeper", nap_state, inner_nap);
    SCN_CHECK(self->sleeper.task);
    AT_AWAIT(at_yield(&self->yield));
    scn_hang_mark();
    if (read(pipe_fds[0], &self->byte, 1) < 0)
        scn_fail("read failed");
    AT_END;
}

typedef struct {
    AT_FRAME;
    inner_state inner;
} bridge_state;

/* Blocks its own runtime for as long as the inner one runs. */
AT_ASYNC_FN(bridge, bridge_state)
{
    AT_BEGIN(bridge_state);
    at_block_on(inner_rt, AT_START(&self->inner, inner_main), "inner");
    AT_END;
}

static at_frame *bridge(bridge_state *s) { return AT_START(s, bridge); }

typedef struct {
    AT_FRAME;
    at_join_handle b;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->b = AT_SPAWN(NULL, "bridge", bridge_state, bridge);
    SCN_CHECK(self->b.task);
    AT_AWAIT(at_join(&self->join, self->b));
    AT_END;
}

int main(void)
{
    SCN_CHECK(pipe(pipe_fds) == 0);
    at_runtime *rt = scn_runtime(0, 0);
    inner_rt = scn_runtime(0, 0);
    static main_state st;
    scn_checkpoint_hung(1);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
