/* 12_cancel_complete - finished, aborted and detached tasks.
 *
 * "finished" (task 2) completes; its handle is kept, so it stays listed as
 * complete.  "holder" (task 4) takes a mutex and sleeps holding it;
 * "aborted-queue" (task 5) and "patient" (task 6) queue behind it.
 * "aborted-sleep" (task 3) is aborted while asleep and "aborted-queue"
 * while queued: both stay listed as cancelled (handles kept) and the mutex
 * forgets the aborted waiter (waiters 2 -> 1).  "detached" (task 7)
 * completes with its handle released: it is freed and gone from every
 * dump.  Checkpoint (quiet, live). */
#include "scenario.h"

static at_mutex gate;

typedef struct {
    AT_FRAME;
    at_yield_fut yield;
} quick_state;

AT_ASYNC_FN(quick, quick_state)
{
    AT_BEGIN(quick_state);
    AT_AWAIT(at_yield(&self->yield));
    AT_END;
}

static at_frame *quick(quick_state *s) { return AT_START(s, quick); }

typedef struct {
    AT_FRAME;
    at_sleep_fut nap;
} nap_state;

AT_ASYNC_FN(nap, nap_state)
{
    AT_BEGIN(nap_state);
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    AT_END;
}

static at_frame *nap(nap_state *s) { return AT_START(s, nap); }

typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
    at_sleep_fut nap;
} gatekeeper_state;

/* Locks the gate and sleeps holding it. */
AT_ASYNC_FN(gatekeeper, gatekeeper_state)
{
    AT_BEGIN(gatekeeper_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &gate));
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    at_mutex_unlock(&gate);
    AT_END;
}

static at_frame *gatekeeper(gatekeeper_state *s) { return AT_START(s, gatekeeper); }

static int gate_queue_is(void *arg)
{
    return __atomic_load_n(&gate.waiters, __ATOMIC_ACQUIRE) == (uint32_t)(uintptr_t)arg;
}

typedef struct {
    AT_FRAME;
    at_join_handle finished, aborted_sleep, aborted_queue, detached, holder, patient;
    union {
        at_join_fut join;
        scn_until_state until;
    } aw;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->finished = AT_SPAWN(NULL, "finished", quick_state, quick);
    self->aborted_sleep = AT_SPAWN(NULL, "aborted-sleep", nap_state, nap);
    self->holder = AT_SPAWN(NULL, "holder", gatekeeper_state, gatekeeper);
    self->aborted_queue = AT_SPAWN(NULL, "aborted-queue", gatekeeper_state, gatekeeper);
    self->patient = AT_SPAWN(NULL, "patient", gatekeeper_state, gatekeeper);
    self->detached = AT_SPAWN(NULL, "detached", quick_state, quick);
    SCN_CHECK(self->finished.task && self->aborted_sleep.task && self->holder.task &&
              self->aborted_queue.task && self->patient.task && self->detached.task);
    at_task_detach(&self->detached);
    AT_AWAIT(at_join(&self->aw.join, self->finished));
    AT_AWAIT(scn_until(&self->aw.until, gate_queue_is, (void *)2));
    at_task_abort(self->aborted_queue);
    at_task_abort(self->aborted_sleep);
    AT_AWAIT(scn_until(&self->aw.until, gate_queue_is, (void *)1));
    AT_AWAIT(at_join(&self->aw.join, self->patient));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    at_mutex_init(&gate);
    /* main, finished, the two aborted, holder, patient (detached is freed) */
    scn_checkpoint_quiet1(rt, 6);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
