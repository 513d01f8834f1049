/* 06_join_select_trees - await trees rather than chains: join-all and
 * select with mixed leaves, nested in each other and in async functions.
 *
 * "holder" (task 2) holds a mutex and sleeps.  "fanout" (task 3) awaits
 * join_all(sleep, lock of the held mutex, fetch() receiving from a channel,
 * select(notify, timeout(semaphore acquire, 1 h))).  "racer" (task 4)
 * awaits select(join of holder, oneshot receive, join_all(notify, sleep)).
 * Checkpoint (quiet, live): both trees with every leaf still pending. */
#include "scenario.h"

static at_mutex guard;
static at_chan *inbox;
static at_notify bell;
static at_semaphore slots;
static at_oneshot *reply;

typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
    at_sleep_fut nap;
} holder_state;

AT_ASYNC_FN(holder, holder_state)
{
    AT_BEGIN(holder_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &guard));
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    at_mutex_unlock(&guard);
    AT_END;
}

static at_frame *holder(holder_state *s) { return AT_START(s, holder); }

typedef struct {
    AT_FRAME;
    int msg;
    at_chan_recv_fut recv;
} fetch_state;

AT_ASYNC_FN(fetch, fetch_state)
{
    AT_BEGIN(fetch_state);
    AT_AWAIT(at_chan_recv(&self->recv, inbox, &self->msg));
    AT_END;
}

static at_frame *fetch(fetch_state *s) { return AT_START(s, fetch); }

typedef struct {
    AT_FRAME;
    at_join_all_fut all;
    at_frame *all_kids[4];
    at_sleep_fut nap;
    at_mutex_lock_fut lock;
    fetch_state fetch;
    at_select_fut sel;
    at_frame *sel_kids[2];
    at_notify_wait_fut ring;
    at_timeout_fut limit;
    at_semaphore_acquire_fut acquire;
} fanout_state;

AT_ASYNC_FN(fanout, fanout_state)
{
    AT_BEGIN(fanout_state);
    self->sel_kids[0] = at_notify_wait(&self->ring, &bell);
    self->sel_kids[1] = at_timeout(&self->limit, at_semaphore_acquire(&self->acquire, &slots, 1),
                                   3600 * AT_SEC);
    self->all_kids[0] = at_sleep(&self->nap, 3600 * AT_SEC);
    self->all_kids[1] = at_mutex_lock(&self->lock, &guard);
    self->all_kids[2] = fetch(&self->fetch);
    self->all_kids[3] = at_select(&self->sel, self->sel_kids, 2);
    AT_AWAIT(at_join_all(&self->all, self->all_kids, 4));
    AT_END;
}

static at_frame *fanout(fanout_state *s) { return AT_START(s, fanout); }

typedef struct {
    AT_FRAME;
    at_join_handle target;
    int value;
    at_select_fut sel;
    at_frame *sel_kids[3];
    at_join_fut join;
    at_oneshot_recv_fut answer;
    at_join_all_fut both;
    at_frame *both_kids[2];
    at_notify_wait_fut ring;
    at_sleep_fut nap;
} racer_state;

AT_ASYNC_FN(racer, racer_state)
{
    AT_BEGIN(racer_state);
    self->both_kids[0] = at_notify_wait(&self->ring, &bell);
    self->both_kids[1] = at_sleep(&self->nap, 3600 * AT_SEC);
    self->sel_kids[0] = at_join(&self->join, self->target);
    self->sel_kids[1] = at_oneshot_recv(&self->answer, reply, &self->value);
    self->sel_kids[2] = at_join_all(&self->both, self->both_kids, 2);
    AT_AWAIT(at_select(&self->sel, self->sel_kids, 3));
    AT_END;
}

static at_frame *racer(racer_state *s, at_join_handle target)
{
    s->target = target;
    return AT_START(s, racer);
}

typedef struct {
    AT_FRAME;
    at_join_handle hold, fan, race;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->hold = AT_SPAWN(NULL, "holder", holder_state, holder);
    self->fan = AT_SPAWN(NULL, "fanout", fanout_state, fanout);
    self->race = AT_SPAWN(NULL, "racer", racer_state, racer, self->hold);
    SCN_CHECK(self->hold.task && self->fan.task && self->race.task);
    AT_AWAIT(at_join(&self->join, self->fan));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    at_mutex_init(&guard);
    at_notify_init(&bell);
    at_semaphore_init(&slots, 0);
    inbox = at_chan_new_unbounded(sizeof(int), NULL);
    reply = at_oneshot_new(sizeof(int));
    SCN_CHECK(inbox && reply);
    scn_checkpoint_quiet1(rt, 4);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
