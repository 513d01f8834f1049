/* 03_dining_philosophers - five philosophers, five forks (mutexes): each
 * takes the fork on the left, waits until everyone is seated with one, then
 * reaches for the fork on the right.  A full cycle of five.
 *
 * Checkpoint (quiet, live): tasks 2..6, each holding its left fork and
 * waiting in at_mutex_lock for the right one, held by the next task;
 * the cycle 2 -> 3 -> 4 -> 5 -> 6 -> 2 through five mutexes. */
#include "scenario.h"

#define SEATS 5

static at_mutex forks[SEATS];
static int seated;

static int all_seated(void *arg)
{
    (void)arg;
    return __atomic_load_n(&seated, __ATOMIC_ACQUIRE) == SEATS;
}

typedef struct {
    AT_FRAME;
    at_mutex *fork;
    at_mutex_lock_fut lock;
} take_fork_state;

AT_ASYNC_FN(take_fork, take_fork_state)
{
    AT_BEGIN(take_fork_state);
    AT_AWAIT(at_mutex_lock(&self->lock, self->fork));
    AT_END;
}

static at_frame *take_fork(take_fork_state *s, at_mutex *fork)
{
    s->fork = fork;
    return AT_START(s, take_fork);
}

typedef struct {
    AT_FRAME;
    int seat;
    union {
        take_fork_state fork;
        scn_until_state until;
    } aw;
} dine_state;

AT_ASYNC_FN(dine, dine_state)
{
    AT_BEGIN(dine_state);
    AT_AWAIT(take_fork(&self->aw.fork, &forks[self->seat]));
    __atomic_add_fetch(&seated, 1, __ATOMIC_ACQ_REL);
    AT_AWAIT(scn_until(&self->aw.until, all_seated, NULL));
    AT_AWAIT(take_fork(&self->aw.fork, &forks[(self->seat + 1) % SEATS]));
    AT_END;
}

static at_frame *dine(dine_state *s, int seat)
{
    s->seat = seat;
    return AT_START(s, dine);
}

static const char *const names[SEATS] = {"aristotle", "kant", "plato", "hume", "locke"};

typedef struct {
    AT_FRAME;
    int i;
    at_join_handle h[SEATS];
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    for (self->i = 0; self->i < SEATS; self->i++) {
        self->h[self->i] = AT_SPAWN(NULL, names[self->i], dine_state, dine, self->i);
        SCN_CHECK(self->h[self->i].task);
    }
    AT_AWAIT(at_join(&self->join, self->h[0]));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    for (int i = 0; i < SEATS; i++)
        at_mutex_init(&forks[i]);
    scn_checkpoint_quiet1(rt, 1 + SEATS);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
