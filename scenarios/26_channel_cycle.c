/* 26_channel_cycle - two tasks each send to the other on a full channel
 * before either has received.
 *
 * "ping" (task 2) and "pong" (task 3) each create their own inbox (a
 * bounded channel of capacity 1, so each is the receiver of the channel it
 * created), publish it, wait for the other's, and send it two messages: the
 * first fills it, the second blocks.  Neither ever receives.  main (task 1)
 * joins ping.  No receive was ever polled, so the cycle can only be seen
 * when a channel knows its receiver from its creation: then
 * info async-diagnose proves the cycle 2 -> 3 -> 2 through two full
 * channels.  Checkpoint (quiet, live). */
#include "scenario.h"

static at_chan *inbox[2];

typedef struct {
    AT_FRAME;
    int me, n;
    union {
        scn_until_state until;
        at_chan_send_fut send;
    } aw;
} peer_state;

static int other_published(void *arg)
{
    int me = (int)(intptr_t)arg;
    return __atomic_load_n(&inbox[1 - me], __ATOMIC_ACQUIRE) != NULL;
}

/* The bug on show: both sides send before receiving. */
AT_ASYNC_FN(peer, peer_state)
{
    AT_BEGIN(peer_state);
    {
        at_chan *mine = at_chan_new_bounded(sizeof(int), 1, NULL);
        SCN_CHECK(mine);
        __atomic_store_n(&inbox[self->me], mine, __ATOMIC_RELEASE);
    }
    AT_AWAIT(scn_until(&self->aw.until, other_published, (void *)(intptr_t)self->me));
    for (self->n = 1; self->n <= 2; self->n++)
        AT_AWAIT(at_chan_send(&self->aw.send, inbox[1 - self->me], &self->n)); /* @await:peer_send */
    AT_END;
}

static at_frame *peer(peer_state *s, int me)
{
    s->me = me;
    return AT_START(s, peer);
}

typedef struct {
    AT_FRAME;
    at_join_handle ping, pong;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->ping = AT_SPAWN(NULL, "ping", peer_state, peer, 0);
    self->pong = AT_SPAWN(NULL, "pong", peer_state, peer, 1);
    SCN_CHECK(self->ping.task && self->pong.task);
    AT_AWAIT(at_join(&self->join, self->ping));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    scn_checkpoint_quiet1(rt, 3);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
