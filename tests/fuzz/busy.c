/* busy.c - subject of the corruption fuzzer's random-moment cores: a
 * multi-thread runtime (4 workers) that never rests and never deadlocks.
 *
 * Pairs of tasks ping-pong over bounded channels, workers take turns on a
 * few mutexes across yields, and a spawner keeps spawning and joining short
 * tasks that sleep.  A core taken at any moment catches tasks being
 * relinked, polled and woken; the GDB walk must read every task correctly
 * or mark it in-flux or corrupt, and must never report a deadlock that
 * rests on verified records.  Prints "ready <pid>", then runs until killed.
 */
#include <stdio.h>
#include <unistd.h>

#include "asynctrace.h"

#define PAIRS 8
#define LOCKERS 8
#define MUTEXES 3

static at_mutex mutexes[MUTEXES];
static at_chan *chans[PAIRS][2];

typedef struct {
    AT_FRAME;
    int pair, side, msg;
    at_chan_send_fut send;
    at_chan_recv_fut recv;
} pong_state;

AT_ASYNC_FN(pong, pong_state)
{
    AT_BEGIN(pong_state);
    for (;;) {
        if (self->side == 0)
            AT_AWAIT(at_chan_send(&self->send, chans[self->pair][0], &self->msg));
        AT_AWAIT(at_chan_recv(&self->recv, chans[self->pair][self->side], &self->msg));
        if (self->side == 1)
            AT_AWAIT(at_chan_send(&self->send, chans[self->pair][1], &self->msg));
    }
    AT_END;
}
static at_frame *pong(pong_state *s, int pair, int side)
{
    s->pair = pair;
    s->side = side;
    return AT_START(s, pong);
}

typedef struct {
    AT_FRAME;
    int n;
    at_mutex_lock_fut lock;
    at_yield_fut y;
} locker_state;

AT_ASYNC_FN(locker, locker_state)
{
    AT_BEGIN(locker_state);
    for (;; self->n++) {
        AT_AWAIT(at_mutex_lock(&self->lock, &mutexes[self->n % MUTEXES]));
        AT_AWAIT(at_yield(&self->y));
        at_mutex_unlock(&mutexes[self->n % MUTEXES]);
        AT_AWAIT(at_yield(&self->y));
    }
    AT_END;
}
static at_frame *locker(locker_state *s, int n)
{
    s->n = n;
    return AT_START(s, locker);
}

typedef struct {
    AT_FRAME;
    at_sleep_fut sleep;
} nap_state;

AT_ASYNC_FN(nap, nap_state)
{
    AT_BEGIN(nap_state);
    AT_AWAIT(at_sleep(&self->sleep, 200 * AT_US));
    AT_END;
}
static at_frame *nap(nap_state *s) { return AT_START(s, nap); }

typedef struct {
    AT_FRAME;
    int i;
    at_join_handle h[4];
    at_join_fut join;
} spawner_state;

AT_ASYNC_FN(spawner, spawner_state)
{
    AT_BEGIN(spawner_state);
    for (;;) {
        for (self->i = 0; self->i < 4; self->i++)
            self->h[self->i] = AT_SPAWN(NULL, "nap", nap_state, nap);
        for (self->i = 0; self->i < 4; self->i++) {
            AT_AWAIT(at_join(&self->join, self->h[self->i]));
            at_join_handle_release(&self->h[self->i]);
        }
    }
    AT_END;
}
static at_frame *spawner(spawner_state *s) { return AT_START(s, spawner); }

typedef struct {
    AT_FRAME;
    int i;
    at_sleep_fut sleep;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    for (self->i = 0; self->i < PAIRS; self->i++) {
        at_task_detach(&(at_join_handle){AT_SPAWN(NULL, "ping", pong_state, pong, self->i,
                                                   0).task});
        at_task_detach(&(at_join_handle){AT_SPAWN(NULL, "pong", pong_state, pong, self->i,
                                                   1).task});
    }
    for (self->i = 0; self->i < LOCKERS; self->i++)
        at_task_detach(&(at_join_handle){AT_SPAWN(NULL, "locker", locker_state, locker,
                                                   self->i).task});
    for (self->i = 0; self->i < 2; self->i++)
        at_task_detach(&(at_join_handle){AT_SPAWN(NULL, "spawner", spawner_state,
                                                   spawner).task});
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    for (;;)
        AT_AWAIT(at_sleep(&self->sleep, 3600 * AT_SEC));
    AT_END;
}
static at_frame *main_task(main_state *s) { return AT_START(s, main_task); }

int main(void)
{
    main_state st;
    int err = 0;
    at_runtime_options opts = {AT_FLAVOR_MULTI_THREAD, 4, "busy"};
    at_runtime *rt = at_runtime_new(&opts);
    if (!rt)
        return 2;
    for (int i = 0; i < MUTEXES; i++)
        at_mutex_init(&mutexes[i]);
    for (int p = 0; p < PAIRS; p++)
        for (int s = 0; s < 2; s++)
            if (!(chans[p][s] = at_chan_new_bounded(sizeof(int), 1, &err)))
                return 2;
    at_block_on(rt, main_task(&st), "main");
    return 1;
}
