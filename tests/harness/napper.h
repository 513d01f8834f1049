/* napper.h - the one-task scene the harness's own tests build on: main
 * (task 1) joins "napper" (task 2), which sleeps for an hour. */
#ifndef HTEST_NAPPER_H
#define HTEST_NAPPER_H

#include "scenario.h"

typedef struct {
    AT_FRAME;
    at_sleep_fut nap;
} napper_state;

AT_ASYNC_FN(napper, napper_state)
{
    AT_BEGIN(napper_state);
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    AT_END;
}

static at_frame *napper(napper_state *s) { return AT_START(s, napper); }

typedef struct {
    AT_FRAME;
    at_join_handle h;
    at_join_fut join;
} napper_main_state;

AT_ASYNC_FN(napper_main, napper_main_state)
{
    AT_BEGIN(napper_main_state);
    self->h = AT_SPAWN(NULL, "napper", napper_state, napper);
    SCN_CHECK(self->h.task);
    AT_AWAIT(at_join(&self->join, self->h));
    AT_END;
}

/* Run the scene with a quiet checkpoint; never returns. */
static void napper_run(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static napper_main_state st;
    scn_checkpoint_quiet1(rt, 2);
    at_block_on(rt, AT_START(&st, napper_main), "main");
    scn_fail("the main task returned");
}

#endif
