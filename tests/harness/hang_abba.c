/* hang_abba - never reaches a checkpoint: "left" (task 2) and "right"
 * (task 3) take two mutexes in opposite orders and deadlock, main (task 1)
 * joins left.  The harness must time it out and explain why: the cycle
 * 2 -> 3 -> 2 through two mutexes, main stuck behind it, and the task table,
 * from a core taken at the timeout. */
#include "scenario.h"

static at_mutex first, second;
static at_notify left_in, right_in;

typedef struct {
    AT_FRAME;
    at_mutex *a, *b;
    at_notify *mine, *theirs;
    union {
        at_mutex_lock_fut lock;
        at_notify_wait_fut wait;
    } aw;
} side_state;

AT_ASYNC_FN(side, side_state)
{
    AT_BEGIN(side_state);
    AT_AWAIT(at_mutex_lock(&self->aw.lock, self->a));
    at_notify_one(self->mine);
    AT_AWAIT(at_notify_wait(&self->aw.wait, self->theirs));
    AT_AWAIT(at_mutex_lock(&self->aw.lock, self->b));
    AT_END;
}

static at_frame *side(side_state *s, at_mutex *a, at_mutex *b, at_notify *mine, at_notify *theirs)
{
    s->a = a;
    s->b = b;
    s->mine = mine;
    s->theirs = theirs;
    return AT_START(s, side);
}

typedef struct {
    AT_FRAME;
    at_join_handle left, right;
    at_join_fut join;
} hang_main_state;

AT_ASYNC_FN(hang_main, hang_main_state)
{
    AT_BEGIN(hang_main_state);
    self->left = AT_SPAWN(NULL, "left", side_state, side, &first, &second, &left_in, &right_in);
    self->right = AT_SPAWN(NULL, "right", side_state, side, &second, &first, &right_in, &left_in);
    SCN_CHECK(self->left.task && self->right.task);
    AT_AWAIT(at_join(&self->join, self->left));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static hang_main_state st;
    at_mutex_init(&first);
    at_mutex_init(&second);
    at_notify_init(&left_in);
    at_notify_init(&right_in);
    at_block_on(rt, AT_START(&st, hang_main), "main");
    scn_fail("the main task returned");
}
