/* 20_holder_cancelled - a mutex whose holder was cancelled while holding it.
 *
 * "holder" (task 2) locks `vault` and sleeps an hour holding it; "teller"
 * (task 3) queues for the lock; main (task 1) aborts the holder (its handle
 * is kept, so it stays listed as cancelled) and joins the teller.  Nothing
 * will ever unlock the vault: info async-diagnose proves the teller stuck
 * (the holder was cancelled; it took the lock at vault_keeper's first
 * await) and main stuck behind it.  Checkpoint (quiet, live). */
#include "scenario.h"

static at_mutex vault;

typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
    at_sleep_fut nap;
} keeper_state;

/* Locks the vault and sleeps holding it (cancelled while asleep). */
AT_ASYNC_FN(vault_keeper, keeper_state)
{
    AT_BEGIN(keeper_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &vault)); /* @await:keeper_lock */
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    at_mutex_unlock(&vault);
    AT_END;
}

static at_frame *vault_keeper(keeper_state *s) { return AT_START(s, vault_keeper); }

static int vault_queue_is(void *arg)
{
    return __atomic_load_n(&vault.waiters, __ATOMIC_ACQUIRE) == (uint32_t)(uintptr_t)arg;
}

typedef struct {
    AT_FRAME;
    at_join_handle holder, teller;
    union {
        at_join_fut join;
        scn_until_state until;
    } aw;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->holder = AT_SPAWN(NULL, "holder", keeper_state, vault_keeper);
    self->teller = AT_SPAWN(NULL, "teller", keeper_state, vault_keeper);
    SCN_CHECK(self->holder.task && self->teller.task);
    AT_AWAIT(scn_until(&self->aw.until, vault_queue_is, (void *)1));
    at_task_abort(self->holder);
    AT_AWAIT(at_join(&self->aw.join, self->teller));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    at_mutex_init(&vault);
    scn_checkpoint_quiet1(rt, 3);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
