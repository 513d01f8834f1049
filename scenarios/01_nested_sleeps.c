/* 01_nested_sleeps - three tasks asleep in a timer 1, 3 and 8 async
 * functions deep (the task's own function counts as the first).
 *
 * Checkpoint (quiet, live): tasks 2..4 idle in at_sleep under 0, 2 and 7
 * frames of `descend`; main (task 1) joins the deepest one. */
#include "scenario.h"

#define MAX_DEPTH 8

typedef struct descend_state descend_state;
struct descend_state {
    AT_FRAME;
    int level;              /* frames still to go below this one */
    descend_state *below;   /* the next level's state */
    at_sleep_fut nap;
};

static at_frame *descend(descend_state *s, int level);

AT_ASYNC_FN(descend, descend_state)
{
    AT_BEGIN(descend_state);
    if (self->level > 0)
        AT_AWAIT(descend(self->below, self->level - 1));
    else
        AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    AT_END;
}

static at_frame *descend(descend_state *s, int level)
{
    s->level = level;
    s->below = s + 1;
    return AT_START(s, descend);
}

typedef struct {
    AT_FRAME;
    int depth;
    at_sleep_fut nap;
    descend_state levels[MAX_DEPTH];
} sleeper_state;

AT_ASYNC_FN(sleeper, sleeper_state)
{
    AT_BEGIN(sleeper_state);
    if (self->depth == 1)
        AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    else
        AT_AWAIT(descend(&self->levels[0], self->depth - 2));
    AT_END;
}

static at_frame *sleeper(sleeper_state *s, int depth)
{
    s->depth = depth;
    return AT_START(s, sleeper);
}

typedef struct {
    AT_FRAME;
    at_join_handle shallow, middle, deep;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->shallow = AT_SPAWN(NULL, "depth-1", sleeper_state, sleeper, 1);
    self->middle = AT_SPAWN(NULL, "depth-3", sleeper_state, sleeper, 3);
    self->deep = AT_SPAWN(NULL, "depth-8", sleeper_state, sleeper, 8);
    SCN_CHECK(self->shallow.task && self->middle.task && self->deep.task);
    AT_AWAIT(at_join(&self->join, self->deep));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    scn_checkpoint_quiet1(rt, 4);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
