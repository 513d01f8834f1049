/* 11_many_tasks - 20,000 idle tasks in 10 different wait states, 2,000 in
 * each: sleep, mutex, semaphore, notify, channel receive, channel send,
 * oneshot receive, join_all(sleep, notify), select(notify, sleep) and
 * timeout(notify wait, 1 h).
 *
 * main (task 1) holds the mutex, owns the channels' senders, is the
 * receiver of the full bounded channel, and sleeps once everything is
 * spawned.  Checkpoint (quiet, live): each group collapses into one
 * `tasks A..B` line of the expect file.  Also built as 14_mt_many_tasks
 * (SCN_MT). */
#include "scenario.h"

#ifndef SCN_MT
#define SCN_MT 0
#endif

#define PER_GROUP 2000
#define GROUPS 10

static at_mutex busy;
static at_semaphore none_left;
static at_notify never;
static at_chan *full;
static int full_msg;

enum { G_SLEEP, G_MUTEX, G_SEMAPHORE, G_NOTIFY, G_RECV, G_SEND, G_ONESHOT,
       G_JOIN_ALL, G_SELECT, G_TIMEOUT };
static const char *const group_names[GROUPS] = {
    "sleep", "mutex", "semaphore", "notify", "recv",
    "send", "oneshot", "join-all", "select", "timeout"};

typedef struct {
    AT_FRAME;
    int group;
    at_chan *own_chan;     /* G_RECV: a channel of its own */
    at_oneshot *own_shot;  /* G_ONESHOT */
    int msg;
    at_frame *kids[2];
    union {
        at_sleep_fut nap;
        at_mutex_lock_fut lock;
        at_semaphore_acquire_fut acquire;
        at_notify_wait_fut ring;
        at_chan_recv_fut recv;
        at_chan_send_fut send;
        at_oneshot_recv_fut shot;
        struct { at_join_all_fut all; at_sleep_fut nap; at_notify_wait_fut ring; } both;
        struct { at_select_fut sel; at_notify_wait_fut ring; at_sleep_fut nap; } either;
        struct { at_timeout_fut limit; at_notify_wait_fut ring; } bounded;
    } aw;
} waiter_state;

AT_ASYNC_FN(waiter, waiter_state)
{
    AT_BEGIN(waiter_state);
    switch (self->group) {
    case G_SLEEP:
        AT_AWAIT(at_sleep(&self->aw.nap, 3600 * AT_SEC));
        break;
    case G_MUTEX:
        AT_AWAIT(at_mutex_lock(&self->aw.lock, &busy));
        break;
    case G_SEMAPHORE:
        AT_AWAIT(at_semaphore_acquire(&self->aw.acquire, &none_left, 1));
        break;
    case G_NOTIFY:
        AT_AWAIT(at_notify_wait(&self->aw.ring, &never));
        break;
    case G_RECV:
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->own_chan, &self->msg));
        break;
    case G_SEND:
        AT_AWAIT(at_chan_send(&self->aw.send, full, &self->msg));
        break;
    case G_ONESHOT:
        AT_AWAIT(at_oneshot_recv(&self->aw.shot, self->own_shot, &self->msg));
        break;
    case G_JOIN_ALL:
        self->kids[0] = at_sleep(&self->aw.both.nap, 3600 * AT_SEC);
        self->kids[1] = at_notify_wait(&self->aw.both.ring, &never);
        AT_AWAIT(at_join_all(&self->aw.both.all, self->kids, 2));
        break;
    case G_SELECT:
        self->kids[0] = at_notify_wait(&self->aw.either.ring, &never);
        self->kids[1] = at_sleep(&self->aw.either.nap, 3600 * AT_SEC);
        AT_AWAIT(at_select(&self->aw.either.sel, self->kids, 2));
        break;
    case G_TIMEOUT:
        AT_AWAIT(at_timeout(&self->aw.bounded.limit,
                            at_notify_wait(&self->aw.bounded.ring, &never), 3600 * AT_SEC));
        break;
    }
    AT_END;
}

static at_frame *waiter(waiter_state *s, int group)
{
    s->group = group;
    s->own_chan = NULL;
    s->own_shot = NULL;
    if (group == G_RECV) {
        s->own_chan = at_chan_new_unbounded(sizeof(int), NULL);
        SCN_CHECK(s->own_chan);
    } else if (group == G_ONESHOT) {
        s->own_shot = at_oneshot_new(sizeof(int));
        SCN_CHECK(s->own_shot);
    } else if (group == G_SEND) {
        at_chan_sender_clone(full);
    }
    return AT_START(s, waiter);
}

typedef struct {
    AT_FRAME;
    int g, i;
    at_join_handle h;
    at_sleep_fut nap;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    SCN_CHECK(at_mutex_try_lock(&busy) == 0);
    /* Become the full channel's receiver (nothing to take yet), fill it. */
    SCN_CHECK(at_chan_try_recv(full, &full_msg) == AT_EAGAIN);
    SCN_CHECK(at_chan_try_send(full, &full_msg) == 0);
    for (self->g = 0; self->g < GROUPS; self->g++)
        for (self->i = 0; self->i < PER_GROUP; self->i++) {
            self->h = AT_SPAWN(NULL, group_names[self->g], waiter_state, waiter, self->g);
            SCN_CHECK(self->h.task);
            at_task_detach(&self->h);
        }
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(SCN_MT, 2);
    static main_state st;
    at_mutex_init(&busy);
    at_semaphore_init(&none_left, 0);
    at_notify_init(&never);
    full = at_chan_new_bounded(sizeof(int), 1, NULL);
    SCN_CHECK(full);
    scn_checkpoint_quiet1(rt, 1 + GROUPS * PER_GROUP);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
