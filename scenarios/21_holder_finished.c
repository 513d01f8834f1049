/* 21_holder_finished - mutexes whose holders finished without unlocking.
 *
 * "leaky" (task 2) locks `ledger` and returns without unlocking; its handle
 * is kept, so it stays listed as complete.  "forgetful" (task 3) does the
 * same with `journal` but is detached: it is freed and no longer exists.
 * "auditor" (task 4) waits for the ledger, "archiver" (task 5) for the
 * journal, and main (task 1) joins the auditor.  info async-diagnose proves
 * both waits hopeless: one holder is complete, the other no longer exists.
 * Checkpoint (quiet, live). */
#include "scenario.h"

static at_mutex ledger, journal;

typedef struct {
    AT_FRAME;
    at_mutex *m;
    at_mutex_lock_fut lock;
} grab_state;

/* The bug on show: returns with the lock still held. */
AT_ASYNC_FN(grab_and_forget, grab_state)
{
    AT_BEGIN(grab_state);
    AT_AWAIT(at_mutex_lock(&self->lock, self->m));
    AT_END;
}

static at_frame *grab_and_forget(grab_state *s, at_mutex *m)
{
    s->m = m;
    return AT_START(s, grab_and_forget);
}

typedef struct {
    AT_FRAME;
    at_mutex *m;
    at_mutex_lock_fut lock;
} use_state;

AT_ASYNC_FN(use_book, use_state)
{
    AT_BEGIN(use_state);
    AT_AWAIT(at_mutex_lock(&self->lock, self->m)); /* @await:use_book */
    at_mutex_unlock(self->m);
    AT_END;
}

static at_frame *use_book(use_state *s, at_mutex *m)
{
    s->m = m;
    return AT_START(s, use_book);
}

static int is_locked(void *arg)
{
    return __atomic_load_n(&((at_mutex *)arg)->owner_id, __ATOMIC_ACQUIRE) != 0;
}

static int has_waiter(void *arg)
{
    return __atomic_load_n(&((at_mutex *)arg)->waiters, __ATOMIC_ACQUIRE) == 1;
}

typedef struct {
    AT_FRAME;
    at_join_handle leaky, forgetful, auditor, archiver;
    union {
        at_join_fut join;
        scn_until_state until;
    } aw;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->leaky = AT_SPAWN(NULL, "leaky", grab_state, grab_and_forget, &ledger);
    SCN_CHECK(self->leaky.task);
    AT_AWAIT(at_join(&self->aw.join, self->leaky));
    self->forgetful = AT_SPAWN(NULL, "forgetful", grab_state, grab_and_forget, &journal);
    SCN_CHECK(self->forgetful.task);
    at_task_detach(&self->forgetful);
    AT_AWAIT(scn_until(&self->aw.until, is_locked, &journal));
    self->auditor = AT_SPAWN(NULL, "auditor", use_state, use_book, &ledger);
    self->archiver = AT_SPAWN(NULL, "archiver", use_state, use_book, &journal);
    SCN_CHECK(self->auditor.task && self->archiver.task);
    AT_AWAIT(scn_until(&self->aw.until, has_waiter, &journal));
    AT_AWAIT(at_join(&self->aw.join, self->auditor));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    at_mutex_init(&ledger);
    at_mutex_init(&journal);
    /* main, leaky (complete), auditor, archiver (forgetful is freed) */
    scn_checkpoint_quiet1(rt, 4);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
