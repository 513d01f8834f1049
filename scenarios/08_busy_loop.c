/* 08_busy_loop - a task that never yields: its poll spins forever.
 *
 * "sleeper" (task 2) sleeps; "spinner" (task 3) loops inside its poll;
 * main joins the spinner.  Offline only (the runtime never reaches a safe
 * point again): the spinner is running, its innermost native frame is its
 * own poll function. */
#include "scenario.h"

static volatile unsigned long spins;

typedef struct {
    AT_FRAME;
    at_sleep_fut nap;
} sleeper_state;

AT_ASYNC_FN(sleeper, sleeper_state)
{
    AT_BEGIN(sleeper_state);
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    AT_END;
}

static at_frame *sleeper(sleeper_state *s) { return AT_START(s, sleeper); }

typedef struct {
    AT_FRAME;
} spinner_state;

AT_ASYNC_FN(spinner, spinner_state)
{
    AT_BEGIN(spinner_state);
    scn_hang_mark();
    for (;;)
        spins++;
    AT_END;
}

static at_frame *spinner(spinner_state *s) { return AT_START(s, spinner); }

typedef struct {
    AT_FRAME;
    at_join_handle sleep, spin;
    union {
        at_yield_fut yield;
        at_join_fut join;
    } aw;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->sleep = AT_SPAWN(NULL, "sleeper", sleeper_state, sleeper);
    SCN_CHECK(self->sleep.task);
    AT_AWAIT(at_yield(&self->aw.yield));
    self->spin = AT_SPAWN(NULL, "spinner", spinner_state, spinner);
    SCN_CHECK(self->spin.task);
    AT_AWAIT(at_join(&self->aw.join, self->spin));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    scn_checkpoint_hung(0);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
