/* 25_leaked_permits - semaphore permits taken by a task that exited.
 *
 * `pool` has 3 permits.  "leaker" (task 2) acquires 2 and finishes without
 * releasing them (handle kept: complete); "borrower" (task 3) acquires the
 * last one and sleeps an hour holding it; "client" (task 4) wants 2 and
 * waits: even when the borrower releases its permit, only 1 is free.  main
 * (task 1) joins the client.  Once the runtime records who holds permits,
 * info async-diagnose proves the client stuck: 2 of 3 permits leaked by a
 * task that exited.  Checkpoint (quiet, live). */
#include "scenario.h"

static at_semaphore pool;

typedef struct {
    AT_FRAME;
    uint64_t n;
    at_semaphore_acquire_fut acquire;
} leaker_state;

/* The bug on show: an error path that forgets at_semaphore_release. */
AT_ASYNC_FN(leaker, leaker_state)
{
    AT_BEGIN(leaker_state);
    AT_AWAIT(at_semaphore_acquire(&self->acquire, &pool, 2));
    AT_END;
}

static at_frame *leaker(leaker_state *s) { return AT_START(s, leaker); }

typedef struct {
    AT_FRAME;
    uint64_t n;
    at_semaphore_acquire_fut acquire;
    at_sleep_fut nap;
} user_state;

AT_ASYNC_FN(use_pool, user_state)
{
    AT_BEGIN(user_state);
    AT_AWAIT(at_semaphore_acquire(&self->acquire, &pool, self->n)); /* @await:use_pool */
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    at_semaphore_release(&pool, self->n);
    AT_END;
}

static at_frame *use_pool(user_state *s, uint64_t n)
{
    s->n = n;
    return AT_START(s, use_pool);
}

static int pool_has_waiter(void *arg)
{
    (void)arg;
    return __atomic_load_n(&pool.waiters, __ATOMIC_ACQUIRE) == 1;
}

static int pool_is_empty(void *arg)
{
    (void)arg;
    return __atomic_load_n(&pool.permits, __ATOMIC_ACQUIRE) == 0;
}

typedef struct {
    AT_FRAME;
    at_join_handle leaker, borrower, client;
    union {
        at_join_fut join;
        scn_until_state until;
    } aw;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->leaker = AT_SPAWN(NULL, "leaker", leaker_state, leaker);
    SCN_CHECK(self->leaker.task);
    AT_AWAIT(at_join(&self->aw.join, self->leaker));
    self->borrower = AT_SPAWN(NULL, "borrower", user_state, use_pool, 1);
    SCN_CHECK(self->borrower.task);
    AT_AWAIT(scn_until(&self->aw.until, pool_is_empty, NULL));
    self->client = AT_SPAWN(NULL, "client", user_state, use_pool, 2);
    SCN_CHECK(self->client.task);
    AT_AWAIT(scn_until(&self->aw.until, pool_has_waiter, NULL));
    AT_AWAIT(at_join(&self->aw.join, self->client));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    at_semaphore_init(&pool, 3);
    scn_checkpoint_quiet1(rt, 4);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
