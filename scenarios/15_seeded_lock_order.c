/* 15_seeded_lock_order - a lock-order bug that only some interleavings
 * show: "payment" (task 2) locks A, yields, locks B; "audit" (task 3)
 * yields, locks B, yields, locks A.  In the runtime's own order (first in,
 * first out) payment holds both and is done before audit takes B, so the
 * scenario reaches its checkpoint with every task complete.  Under some
 * scheduling seeds (ASYNCTRACE_SCHED_SEED, harness --seeds N) audit takes B
 * between payment's two locks: the two wait for each other forever, the
 * checkpoint is never reached, and the harness reports the seed, the cycle
 * 2 -> 3 -> 2 and the command that replays it (tests/harness/selftest.sh). */
#include "scenario.h"

static at_mutex lock_a, lock_b;

typedef struct {
    AT_FRAME;
    at_mutex *first, *second;
    int yield_first;
    union {
        at_mutex_lock_fut lock;
        at_yield_fut yield;
    } aw;
} locker_state;

/* [yield,] lock first, yield, lock second, unlock both. */
AT_ASYNC_FN(locker, locker_state)
{
    AT_BEGIN(locker_state);
    if (self->yield_first)
        AT_AWAIT(at_yield(&self->aw.yield));
    AT_AWAIT(at_mutex_lock(&self->aw.lock, self->first));
    AT_AWAIT(at_yield(&self->aw.yield));
    AT_AWAIT(at_mutex_lock(&self->aw.lock, self->second));
    at_mutex_unlock(self->second);
    at_mutex_unlock(self->first);
    AT_END;
}

static at_frame *locker(locker_state *s, at_mutex *first, at_mutex *second, int yield_first)
{
    s->first = first;
    s->second = second;
    s->yield_first = yield_first;
    return AT_START(s, locker);
}

typedef struct {
    AT_FRAME;
    at_join_handle payment, audit;
    union {
        at_join_fut join;
        at_sleep_fut nap;
    } aw;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->payment = AT_SPAWN(NULL, "payment", locker_state, locker, &lock_a, &lock_b, 0);
    self->audit = AT_SPAWN(NULL, "audit", locker_state, locker, &lock_b, &lock_a, 1);
    SCN_CHECK(self->payment.task && self->audit.task);
    AT_AWAIT(at_join(&self->aw.join, self->payment));
    AT_AWAIT(at_join(&self->aw.join, self->audit));
    scn_done();
    AT_AWAIT(at_sleep(&self->aw.nap, 3600 * AT_SEC));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    at_mutex_init(&lock_a);
    at_mutex_init(&lock_b);
    scn_checkpoint_done(rt, 3);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
