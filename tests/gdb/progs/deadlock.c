/* deadlock.c - GDB test program: three wait-for cycles and tasks stuck
 * behind them, next to tasks that only look blocked.
 *
 * Task ids: 1 main, 2 a, 3 b (a and b lock two mutexes in opposite order),
 * 4 c (holds m3, joins a), 5 d (waits for m3), 6 e and 7 f (join each
 * other), 8 h (receives once, then waits for m4), 9 g (holds m4, sends on a
 * full channel whose receiver is h), 10 napper (holds m5, sleeps an hour),
 * 11 patient (waits for m5: not deadlocked, the napper wakes up).
 * Nothing can finish, so after "go" the program checks that the walk
 * changed nothing (every task still idle) and exits 0.
 */
#include "common.h"

static at_runtime *rt;
static at_mutex m1, m2, m3, m4, m5;
static at_chan *ch;
static at_join_handle a_h, e_h, f_h;

/* ---- a and b: lock order inversion ---- */
typedef struct {
    AT_FRAME;
    at_mutex *first, *second;
    at_mutex_lock_fut lock;
    at_yield_fut y;
} pair_state;

AT_ASYNC_FN(lock_pair, pair_state)
{
    AT_BEGIN(pair_state);
    AT_AWAIT(at_mutex_lock(&self->lock, self->first));
    AT_AWAIT(at_yield(&self->y));
    AT_AWAIT(at_mutex_lock(&self->lock, self->second)); /* @await:lock_pair */
    AT_END;
}
static at_frame *lock_pair(pair_state *s, at_mutex *first, at_mutex *second)
{
    s->first = first;
    s->second = second;
    return AT_START(s, lock_pair);
}

/* ---- c: holds m3 and joins a ---- */
typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
    at_join_fut join;
} c_state;

AT_ASYNC_FN(hold_and_join, c_state)
{
    AT_BEGIN(c_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &m3));
    AT_AWAIT(at_join(&self->join, a_h)); /* @await:hold_and_join */
    AT_END;
}
static at_frame *hold_and_join(c_state *s) { return AT_START(s, hold_and_join); }

/* ---- d (m3), patient (m5): wait for a mutex ---- */
typedef struct {
    AT_FRAME;
    at_mutex *m;
    at_mutex_lock_fut lock;
} lock_state;

AT_ASYNC_FN(lock_one, lock_state)
{
    AT_BEGIN(lock_state);
    AT_AWAIT(at_mutex_lock(&self->lock, self->m)); /* @await:lock_one */
    AT_END;
}
static at_frame *lock_one(lock_state *s, at_mutex *m)
{
    s->m = m;
    return AT_START(s, lock_one);
}

/* ---- e and f: join each other ---- */
typedef struct {
    AT_FRAME;
    at_join_handle *other;
    at_join_fut join;
} join_state;

AT_ASYNC_FN(join_other, join_state)
{
    AT_BEGIN(join_state);
    AT_AWAIT(at_join(&self->join, *self->other)); /* @await:join_other */
    AT_END;
}
static at_frame *join_other(join_state *s, at_join_handle *other)
{
    s->other = other;
    return AT_START(s, join_other);
}

/* ---- h: receives once, then wants m4 ---- */
typedef struct {
    AT_FRAME;
    int msg;
    at_chan_recv_fut recv;
    at_mutex_lock_fut lock;
} h_state;

AT_ASYNC_FN(recv_then_lock, h_state)
{
    AT_BEGIN(h_state);
    AT_AWAIT(at_chan_recv(&self->recv, ch, &self->msg));
    AT_AWAIT(at_mutex_lock(&self->lock, &m4)); /* @await:recv_then_lock */
    AT_END;
}
static at_frame *recv_then_lock(h_state *s) { return AT_START(s, recv_then_lock); }

/* ---- g: holds m4, fills the channel ---- */
typedef struct {
    AT_FRAME;
    int i;
    at_mutex_lock_fut lock;
    at_chan_send_fut send;
} g_state;

AT_ASYNC_FN(lock_then_send, g_state)
{
    AT_BEGIN(g_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &m4));
    for (self->i = 1; self->i <= 3; self->i++)
        AT_AWAIT(at_chan_send(&self->send, ch, &self->i)); /* @await:lock_then_send */
    AT_END;
}
static at_frame *lock_then_send(g_state *s) { return AT_START(s, lock_then_send); }

/* ---- napper: holds m5 while sleeping ---- */
typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
    at_sleep_fut sleep;
} nap_state;

AT_ASYNC_FN(lock_and_nap, nap_state)
{
    AT_BEGIN(nap_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &m5));
    AT_AWAIT(at_sleep(&self->sleep, 3600 * AT_SEC)); /* @await:lock_and_nap */
    at_mutex_unlock(&m5);
    AT_END;
}
static at_frame *lock_and_nap(nap_state *s) { return AT_START(s, lock_and_nap); }

/* ---- main ---- */
typedef struct {
    AT_FRAME;
    at_join_handle others[6];
    at_notify_wait_fut wait;
} main_state;

static at_notify never;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    a_h = AT_SPAWN(NULL, "a", pair_state, lock_pair, &m1, &m2);
    self->others[0] = AT_SPAWN(NULL, "b", pair_state, lock_pair, &m2, &m1);
    self->others[1] = AT_SPAWN(NULL, "c", c_state, hold_and_join);
    self->others[2] = AT_SPAWN(NULL, "d", lock_state, lock_one, &m3);
    e_h = AT_SPAWN(NULL, "e", join_state, join_other, &f_h);
    f_h = AT_SPAWN(NULL, "f", join_state, join_other, &e_h);
    self->others[3] = AT_SPAWN(NULL, "h", h_state, recv_then_lock);
    self->others[4] = AT_SPAWN(NULL, "g", g_state, lock_then_send);
    self->others[5] = AT_SPAWN(NULL, "napper", nap_state, lock_and_nap);
    AT_SPAWN(NULL, "patient", lock_state, lock_one, &m5);
    checkpoint_settled();
    AT_AWAIT(at_notify_wait(&self->wait, &never)); /* @await:main_task */
    AT_END;
}
static at_frame *main_task(main_state *s) { return AT_START(s, main_task); }

static void release(void)
{
    /* Nothing can finish: prove the walk left every task where it was. */
    at_dump *d = at_snapshot_take();
    size_t idle = 0;
    for (size_t r = 0; d && r < d->nruntimes; r++)
        for (size_t i = 0; i < d->runtimes[r].ntasks; i++)
            idle += d->runtimes[r].tasks[i].state == AT_TASK_IDLE;
    printf("still idle: %zu\n", idle);
    printf("done\n");
    fflush(stdout);
    at_dump_free(d);
    _exit(idle == 11 ? 0 : 1);
}

int main(void)
{
    main_state st;
    int err = 0;
    rt = at_runtime_new(NULL);
    at_mutex_init(&m1);
    at_mutex_init(&m2);
    at_mutex_init(&m3);
    at_mutex_init(&m4);
    at_mutex_init(&m5);
    at_notify_init(&never);
    ch = at_chan_new_bounded(sizeof(int), 1, &err);
    if (!rt || !ch)
        return 2;
    checkpoint_start(release, 0);
    at_block_on(rt, main_task(&st), "main");
    return 1; /* not reached: the tasks never finish */
}
