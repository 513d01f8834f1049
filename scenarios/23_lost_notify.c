/* 23_lost_notify - a wake-up sent before anyone waited, then lost.
 *
 * "announcer" (task 2) calls at_notify_all on `ready` (which wakes the
 * current waiters and stores no permit: there are none) and finishes
 * (handle kept: complete).  "listener" (task 3) starts waiting on `ready`
 * afterwards and will never be woken; main (task 1) joins the listener.
 * Once the runtime records a notify's last notifier, info async-diagnose
 * names the lost wake-up as likely (the last notifier has finished); any
 * task holding a pointer could still notify, so it is not proven.
 * Checkpoint (quiet, live). */
#include "scenario.h"

static at_notify ready;

typedef struct {
    AT_FRAME;
} announcer_state;

/* The bug on show: notify_all before the listener waits. */
AT_ASYNC_FN(announcer, announcer_state)
{
    AT_BEGIN(announcer_state);
    at_notify_all(&ready);
    AT_END;
}

static at_frame *announcer(announcer_state *s) { return AT_START(s, announcer); }

typedef struct {
    AT_FRAME;
    at_notify_wait_fut wait;
} listener_state;

AT_ASYNC_FN(listener, listener_state)
{
    AT_BEGIN(listener_state);
    AT_AWAIT(at_notify_wait(&self->wait, &ready)); /* @await:listener */
    AT_END;
}

static at_frame *listener(listener_state *s) { return AT_START(s, listener); }

typedef struct {
    AT_FRAME;
    at_join_handle announcer, listener;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->announcer = AT_SPAWN(NULL, "announcer", announcer_state, announcer);
    SCN_CHECK(self->announcer.task);
    AT_AWAIT(at_join(&self->join, self->announcer));
    self->listener = AT_SPAWN(NULL, "listener", listener_state, listener);
    SCN_CHECK(self->listener.task);
    AT_AWAIT(at_join(&self->join, self->listener));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    at_notify_init(&ready);
    scn_checkpoint_quiet1(rt, 3);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
