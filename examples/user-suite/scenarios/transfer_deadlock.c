/* transfer_deadlock - a deliberately failing scenario: two transfers lock
 * their two accounts in opposite orders and deadlock (tasks 2 and 3).  The
 * expect file asserts that no task is stuck, so the harness reports the
 * cycle: this is what a regression caught in CI looks like. */
#include <asynctrace/scenario.h>

static at_mutex checking, savings;
static at_notify took_checking, took_savings;

typedef struct {
    AT_FRAME;
    at_mutex *from, *to;
    at_notify *mine, *theirs;
    union {
        at_mutex_lock_fut lock;
        at_notify_wait_fut wait;
    } aw;
} transfer_state;

AT_ASYNC_FN(transfer, transfer_state)
{
    AT_BEGIN(transfer_state);
    AT_AWAIT(at_mutex_lock(&self->aw.lock, self->from));
    at_notify_one(self->mine);
    AT_AWAIT(at_notify_wait(&self->aw.wait, self->theirs));
    AT_AWAIT(at_mutex_lock(&self->aw.lock, self->to));
    at_mutex_unlock(self->to);
    at_mutex_unlock(self->from);
    AT_END;
}

static at_frame *transfer(transfer_state *s, at_mutex *from, at_mutex *to, at_notify *mine,
                          at_notify *theirs)
{
    s->from = from;
    s->to = to;
    s->mine = mine;
    s->theirs = theirs;
    return AT_START(s, transfer);
}

typedef struct {
    AT_FRAME;
    at_join_handle a, b;
    at_join_fut join;
} bank_state;

AT_ASYNC_FN(bank, bank_state)
{
    AT_BEGIN(bank_state);
    self->a = AT_SPAWN(NULL, "pay-rent", transfer_state, transfer, &checking, &savings,
                       &took_checking, &took_savings);
    self->b = AT_SPAWN(NULL, "top-up", transfer_state, transfer, &savings, &checking,
                       &took_savings, &took_checking);
    AT_SCENARIO_CHECK(self->a.task && self->b.task);
    AT_AWAIT(at_join(&self->join, self->a));
    AT_END;
}

int main(void)
{
    at_runtime *rt = at_scenario_runtime(0, 0);
    static bank_state st;
    at_mutex_init(&checking);
    at_mutex_init(&savings);
    at_notify_init(&took_checking);
    at_notify_init(&took_savings);
    at_scenario_checkpoint_quiet1(rt, 3);
    at_block_on(rt, AT_START(&st, bank), "main");
    at_scenario_fail("the main task returned");
}
