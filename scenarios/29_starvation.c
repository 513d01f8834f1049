/* 29_starvation - a task that never yields starves the runnable ones.
 *
 * "hog" (task 2) spawns "starved-1".."starved-3" (tasks 3 to 5, scheduled)
 * and then spins inside its poll without ever returning: the runtime's only
 * thread is busy, the three stay runnable and are never polled.  main
 * (task 1) joins the hog.  info async-diagnose names the hog (running
 * without yielding, at its loop's line), that every worker is stuck, and
 * the starving tasks with how long they have waited.  No live dump
 * (offline). */
#include "scenario.h"
#include "starved_task.h"

typedef struct {
    AT_FRAME;
    at_join_handle kids[3];
    volatile uint64_t spins;
} hog_state;

/* The bug on show: a CPU-bound loop inside a poll. */
AT_ASYNC_FN(hog, hog_state)
{
    AT_BEGIN(hog_state);
    self->kids[0] = AT_SPAWN(NULL, "starved-1", starved_state, starved);
    self->kids[1] = AT_SPAWN(NULL, "starved-2", starved_state, starved);
    self->kids[2] = AT_SPAWN(NULL, "starved-3", starved_state, starved);
    SCN_CHECK(self->kids[0].task && self->kids[1].task && self->kids[2].task);
    scn_hang_mark();
    for (;;)
        self->spins++; /* @native:hog */
    AT_END;
}

static at_frame *hog(hog_state *s) { return AT_START(s, hog); }

typedef struct {
    AT_FRAME;
    at_join_handle hog;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->hog = AT_SPAWN(NULL, "hog", hog_state, hog);
    SCN_CHECK(self->hog.task);
    AT_AWAIT(at_join(&self->join, self->hog));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    scn_allow_scheduled();
    scn_checkpoint_hung(0);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
