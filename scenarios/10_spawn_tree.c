/* 10_spawn_tree - tasks spawning tasks three levels deep, with names.
 *
 * main (task 1) spawns "dept-a" and "dept-b"; each department spawns two
 * teams ("team-a1", ...), each team one worker ("worker-a1", ...).  Workers
 * sleep, teams join their worker, departments join their first team, main
 * joins dept-a.  Spawn sites (one per level) and parent ids must match.
 * Checkpoint (quiet, live). */
#include <stdio.h>

#include "scenario.h"

typedef struct {
    AT_FRAME;
    at_sleep_fut nap;
} worker_state;

AT_ASYNC_FN(worker, worker_state)
{
    AT_BEGIN(worker_state);
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    AT_END;
}

static at_frame *worker(worker_state *s) { return AT_START(s, worker); }

typedef struct {
    AT_FRAME;
    char tag[16];
    char name[32];
    at_join_handle w;
    at_join_fut join;
} team_state;

AT_ASYNC_FN(team, team_state)
{
    AT_BEGIN(team_state);
    snprintf(self->name, sizeof self->name, "worker-%s", self->tag);
    self->w = AT_SPAWN(NULL, self->name, worker_state, worker);
    SCN_CHECK(self->w.task);
    AT_AWAIT(at_join(&self->join, self->w));
    AT_END;
}

static at_frame *team(team_state *s, char letter, int n)
{
    snprintf(s->tag, sizeof s->tag, "%c%d", letter, n);
    return AT_START(s, team);
}

typedef struct {
    AT_FRAME;
    char letter;
    int i;
    char name[32];
    at_join_handle teams[2];
    at_join_fut join;
} dept_state;

AT_ASYNC_FN(dept, dept_state)
{
    AT_BEGIN(dept_state);
    for (self->i = 0; self->i < 2; self->i++) {
        snprintf(self->name, sizeof self->name, "team-%c%d", self->letter, self->i + 1);
        self->teams[self->i] = AT_SPAWN(NULL, self->name, team_state, team, self->letter,
                                        self->i + 1);
        SCN_CHECK(self->teams[self->i].task);
    }
    AT_AWAIT(at_join(&self->join, self->teams[0]));
    AT_END;
}

static at_frame *dept(dept_state *s, char letter)
{
    s->letter = letter;
    return AT_START(s, dept);
}

typedef struct {
    AT_FRAME;
    at_join_handle a, b;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->a = AT_SPAWN(NULL, "dept-a", dept_state, dept, 'a');
    self->b = AT_SPAWN(NULL, "dept-b", dept_state, dept, 'b');
    SCN_CHECK(self->a.task && self->b.task);
    AT_AWAIT(at_join(&self->join, self->a));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    scn_checkpoint_quiet1(rt, 1 + 2 + 4 + 4);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
