/* test_mt_hotpaths.c - the scheduler's fast paths (docs/runtime.md,
 * "Fast paths"): task memory from the per-runtime pool, wakes of a
 * current-thread runtime's tasks from other threads (wake requests),
 * channel hand-off to a waiting receive and the give-back of a message a
 * dropped receive never saw, the loops' timestamps, and cross-thread
 * stress of all of them on both flavors.
 *
 * ASYNCTRACE_TEST_SCALE=N divides the stress sizes by N (the TSan run). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asynctrace.h"
#include "core/runtime_state.h" /* white-box checks of private state */
#include "cunit_main.h"
#include "test_support.h"

static at_runtime *rt_new(at_flavor flavor, unsigned workers)
{
    at_runtime_options o = {flavor, workers, "hot"};
    at_runtime *rt = at_runtime_new(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    return rt;
}

static uint32_t state_of(at_join_handle h)
{
    return atomic_load(&h.task->state);
}

/* ---- Tasks used below ---- */

/* Records what its state held when first polled (zero, always). */
typedef struct {
    AT_FRAME;
    uint64_t junk[6];
    uint64_t seen;
    uint64_t *sum;
} marker_state;

AT_ASYNC_FN(marker, marker_state)
{
    AT_BEGIN(marker_state);
    for (int i = 0; i < 6; i++)
        self->seen |= self->junk[i];
    for (int i = 0; i < 6; i++)
        self->junk[i] = ~0ull; /* dirty the block for its next owner */
    if (self->sum)
        *self->sum += 1;
    AT_END;
}
static at_frame *marker(marker_state *s, uint64_t *sum)
{
    s->sum = sum; /* junk and seen are left as the pool gave them */
    return AT_START(s, marker);
}

/* A task far larger than the pool's biggest block. */
typedef struct {
    AT_FRAME;
    unsigned char big[8192];
    int ok;
} big_state;

AT_ASYNC_FN(big_task, big_state)
{
    AT_BEGIN(big_state);
    self->ok = 1;
    for (size_t i = 0; i < sizeof self->big; i++)
        if (self->big[i])
            self->ok = 0;
    AT_END;
}
static at_frame *big_task(big_state *s) { return AT_START(s, big_task); }

/* Receives one message from a channel. */
typedef struct {
    AT_FRAME;
    at_chan *c;
    uint64_t msg;
    int status;
    at_chan_recv_fut recv;
} recv1_state;

AT_ASYNC_FN(recv1, recv1_state)
{
    AT_BEGIN(recv1_state);
    AT_AWAIT(at_chan_recv(&self->recv, self->c, &self->msg));
    self->status = self->recv.status;
    AT_END;
}
static at_frame *recv1(recv1_state *s, at_chan *c)
{
    s->c = c;
    s->msg = 0;
    s->status = 1;
    return AT_START(s, recv1);
}

/* Spawns one receiver and yields until it waits. */
typedef struct {
    AT_FRAME;
    at_chan *c;
    int n;
    at_join_handle *out;
    int i;
    at_yield_fut yield;
} setup_state;

AT_ASYNC_FN(setup, setup_state)
{
    AT_BEGIN(setup_state);
    for (self->i = 0; self->i < self->n; self->i++)
        self->out[self->i] = AT_SPAWN(NULL, "recv1", recv1_state, recv1, self->c);
    AT_AWAIT(at_yield(&self->yield));
    AT_END;
}

/* Joins one task. */
typedef struct {
    AT_FRAME;
    at_join_handle h;
    int status;
    at_join_fut join;
} join1_state;

AT_ASYNC_FN(join1, join1_state)
{
    AT_BEGIN(join1_state);
    AT_AWAIT(at_join(&self->join, self->h));
    self->status = self->join.status;
    AT_END;
}

/* Joins n tasks (the handles stay held).  Tasks spawned or woken from
 * other threads run once the run queue is empty: joining them (rather
 * than yielding) makes sure they did. */
typedef struct {
    AT_FRAME;
    at_join_handle *h;
    int n, i;
    at_join_fut join;
} joinall_state;

AT_ASYNC_FN(joinall, joinall_state)
{
    AT_BEGIN(joinall_state);
    for (self->i = 0; self->i < self->n; self->i++)
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
    AT_END;
}

static void join_all(at_runtime *rt, at_join_handle *h, int n)
{
    joinall_state st = {.h = h, .n = n};
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, joinall), "joinall"), 0);
}

/* ====================================================================== */
/* Task memory                                                            */
/* ====================================================================== */

/* Spawns, joins and releases tasks one at a time: each new task gets the
 * block the previous one left (the owner's cache is LIFO), zeroed. */
typedef struct {
    AT_FRAME;
    int i, n;
    uint64_t seen, sum;
    at_task *first, *last;
    int same;
    at_join_handle h;
    at_join_fut join;
} recycle_state;

AT_ASYNC_FN(recycle, recycle_state)
{
    AT_BEGIN(recycle_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->h = AT_SPAWN(NULL, "marker", marker_state, marker, &self->sum);
        CU_ASSERT_PTR_NOT_NULL_FATAL(self->h.task);
        if (self->i == 0)
            self->first = self->h.task;
        else if (self->h.task == self->last)
            self->same++;
        self->last = self->h.task;
        AT_AWAIT(at_join(&self->join, self->h));
        self->seen |= ((marker_state *)at_join_handle_state(self->h))->seen;
        at_join_handle_release(&self->h);
#if !defined(__SANITIZE_ADDRESS__)
        /* Freed: the block stays in the pool, marked as a freed task. */
        AT_ASSERT_EQ_U64(self->last->magic, AT_DEAD_MAGIC);
#endif
    }
    AT_END;
}

AT_TEST(pool_reuses_blocks_zeroed)
{
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    recycle_state st = {.n = 100};
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, recycle), "recycle"), 0);
    AT_ASSERT_EQ_U64(st.sum, 100);
    AT_ASSERT_EQ_U64(st.seen, 0); /* every state started zeroed */
#if !defined(__SANITIZE_ADDRESS__)
    /* The block freed by a task is the next task's (not under ASan, where
     * tasks come from calloc). */
    AT_ASSERT_EQ_INT(st.same, 99);
#endif
    at_runtime_free(rt);
}

AT_TEST(pool_large_task_from_calloc)
{
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    at_join_handle h = AT_SPAWN(rt, "big", big_state, big_task);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h.task);
    AT_ASSERT_EQ_U64(h.task->alloc_class, 0);
    join_all(rt, &h, 1);
    AT_ASSERT_EQ_INT(state_of(h), AT_TASK_COMPLETE);
    AT_ASSERT_EQ_INT(((big_state *)at_join_handle_state(h))->ok, 1);
    at_join_handle_release(&h);
    at_runtime_free(rt);
}

/* Spawned from a thread that is not the runtime's (no cache of its own),
 * then run; and handles that outlive the runtime keep their task readable
 * until released. */
static void *spawn_outside(void *arg)
{
    at_runtime *rt = arg;
    at_join_handle *h = malloc(64 * sizeof *h);
    for (int i = 0; i < 64; i++)
        h[i] = AT_SPAWN(rt, "outside", marker_state, marker, NULL);
    return h;
}

AT_TEST(pool_foreign_spawns_and_orphans)
{
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    pthread_t th;
    void *ret;
    pthread_create(&th, NULL, spawn_outside, rt);
    pthread_join(th, &ret);
    at_join_handle *h = ret;
    for (int i = 0; i < 64; i++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(h[i].task);
    join_all(rt, h, 64);
    for (int i = 0; i < 64; i++) {
        AT_ASSERT_EQ_INT(state_of(h[i]), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_U64(((marker_state *)at_join_handle_state(h[i]))->seen, 0);
    }
    /* Half released now, half after the runtime is gone. */
    for (int i = 0; i < 32; i++)
        at_join_handle_release(&h[i]);
    at_join_handle idle = AT_SPAWN(rt, "never-run", marker_state, marker, NULL);
    at_runtime_free(rt);
    AT_ASSERT_EQ_INT(state_of(idle), AT_TASK_CANCELLED);
    CU_ASSERT_PTR_NULL(idle.task->runtime);
    for (int i = 32; i < 64; i++) {
        AT_ASSERT_EQ_U64(h[i].task->magic, AT_TASK_MAGIC);
        AT_ASSERT_EQ_INT(state_of(h[i]), AT_TASK_COMPLETE);
        at_join_handle_release(&h[i]);
    }
    at_join_handle_release(&idle); /* the last one lets the pool go */
    free(h);
}

/* ====================================================================== */
/* Wakes from other threads on a current-thread runtime                   */
/* ====================================================================== */

/* No thread drives the runtime: a send from this thread hands the message
 * to the waiting receive and leaves a wake request; the task stays idle
 * until the next block_on turns the request into a wake. */
AT_TEST(ct_wake_request_then_drain)
{
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    at_chan *c = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    at_join_handle r;
    setup_state s = {.c = c, .n = 1, .out = &r};
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&s, setup), "setup"), 0);
    AT_ASSERT_EQ_INT(state_of(r), AT_TASK_IDLE);
    AT_ASSERT_EQ_U64(c->recv_waiters, 1);
    uint64_t polls = r.task->poll_count;

    uint64_t v = 7;
    AT_ASSERT_EQ_INT(at_chan_try_send(c, &v), 0);
    recv1_state *rs = at_join_handle_state(r);
    AT_ASSERT_EQ_U64(rs->msg, 7); /* handed over, not buffered */
    AT_ASSERT_EQ_U64(c->len, 0);
    AT_ASSERT_EQ_U64(c->recv_waiters, 0);
    AT_ASSERT_EQ_INT(state_of(r), AT_TASK_IDLE); /* only asked */
    CU_ASSERT_PTR_EQUAL(at__rt(rt)->wake_head, r.task);
    /* A second wake of the same task adds nothing. */
    at_waker again = {r.task};
    at_waker_wake_by_ref(&again);
    CU_ASSERT_PTR_EQUAL(at__rt(rt)->wake_head, r.task);
    AT_ASSERT_EQ_INT(state_of(r), AT_TASK_IDLE);
    v = 8;
    AT_ASSERT_EQ_INT(at_chan_try_send(c, &v), 0); /* buffered */
    AT_ASSERT_EQ_U64(c->len, 1);
    CU_ASSERT_PTR_EQUAL(at__rt(rt)->wake_head, r.task);

    join1_state j = {.h = r};
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&j, join1), "join"), 0);
    AT_ASSERT_EQ_INT(j.status, 0);
    AT_ASSERT_EQ_INT(state_of(r), AT_TASK_COMPLETE);
    AT_ASSERT_EQ_U64(r.task->poll_count, polls + 1);
    AT_ASSERT_EQ_INT(rs->status, 0);
    AT_ASSERT_EQ_U64(rs->msg, 7);
    CU_ASSERT_PTR_NULL(at__rt(rt)->wake_head);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), 0);
    AT_ASSERT_EQ_U64(v, 8);
    at_join_handle_release(&r);
    at_chan_sender_drop(c);
    at_chan_receiver_drop(c);
    at_runtime_free(rt);
}

/* A task with a wake request pending when the runtime is freed. */
AT_TEST(ct_wake_request_at_shutdown)
{
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    at_chan *c = at_chan_new_unbounded(sizeof(uint64_t), NULL);
    at_join_handle r[2];
    setup_state s = {.c = c, .n = 2, .out = r};
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&s, setup), "setup"), 0);
    uint64_t v = 1;
    AT_ASSERT_EQ_INT(at_chan_try_send(c, &v), 0);
    CU_ASSERT_PTR_EQUAL(at__rt(rt)->wake_head, r[0].task);
    at_join_handle_release(&r[1]);
    at_runtime_free(rt); /* cancels both; r[0] leaves the request list */
    AT_ASSERT_EQ_INT(state_of(r[0]), AT_TASK_CANCELLED);
    CU_ASSERT_PTR_NULL(r[0].task->sched_data);
    at_join_handle_release(&r[0]);
    /* r[0] was handed 1 but never saw it: given back to the channel. */
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), 0);
    AT_ASSERT_EQ_U64(v, 1);
    at_chan_sender_drop(c);
    at_chan_receiver_drop(c);
}

/* ====================================================================== */
/* Channel hand-off and give-back                                         */
/* ====================================================================== */

/* A receive aborted after a message was handed to it gives the message
 * back: to the next waiting receive if there is one, else in front of the
 * buffer, even past the capacity. */
AT_TEST(chan_give_back_on_drop)
{
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    at_chan *c = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
    at_join_handle r[2];
    setup_state s = {.c = c, .n = 2, .out = r};
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&s, setup), "setup"), 0);
    AT_ASSERT_EQ_U64(c->recv_waiters, 2);

    /* To the next receive: r0 is handed 5, then aborted. */
    uint64_t v = 5;
    AT_ASSERT_EQ_INT(at_chan_try_send(c, &v), 0);
    AT_ASSERT_EQ_U64(((recv1_state *)at_join_handle_state(r[0]))->msg, 5);
    at_task_abort(r[0]);
    join1_state j = {.h = r[1]};
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&j, join1), "join"), 0);
    AT_ASSERT_EQ_INT(state_of(r[0]), AT_TASK_CANCELLED);
    AT_ASSERT_EQ_INT(state_of(r[1]), AT_TASK_COMPLETE);
    AT_ASSERT_EQ_U64(((recv1_state *)at_join_handle_state(r[1]))->msg, 5);
    AT_ASSERT_EQ_U64(c->len, 0);
    at_join_handle_release(&r[0]);
    at_join_handle_release(&r[1]);

    /* In front of the buffer: r0 is handed 6, 7 fills the buffer, then r0
     * is aborted: 6 comes back first, the channel holding 2 > capacity. */
    s.n = 1;
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&s, setup), "setup"), 0);
    v = 6;
    AT_ASSERT_EQ_INT(at_chan_try_send(c, &v), 0);
    v = 7;
    AT_ASSERT_EQ_INT(at_chan_try_send(c, &v), 0);
    AT_ASSERT_EQ_U64(c->len, 1);
    at_task_abort(r[0]);
    join_all(rt, r, 1);
    AT_ASSERT_EQ_INT(state_of(r[0]), AT_TASK_CANCELLED);
    AT_ASSERT_EQ_U64(c->len, 2);
    v = 9;
    AT_ASSERT_EQ_INT(at_chan_try_send(c, &v), AT_EAGAIN);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), 0);
    AT_ASSERT_EQ_U64(v, 6);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), 0);
    AT_ASSERT_EQ_U64(v, 7);
    AT_ASSERT_EQ_INT(at_chan_try_recv(c, &v), AT_EAGAIN);
    at_join_handle_release(&r[0]);
    at_chan_sender_drop(c);
    at_chan_receiver_drop(c);
    at_runtime_free(rt);
}

/* ====================================================================== */
/* Timestamps                                                             */
/* ====================================================================== */

static void busy_wait(uint64_t ns)
{
    uint64_t end = at_now_ns() + ns;
    while (at_now_ns() < end)
        ;
}

/* Busy for `ns` in its only poll; records when the poll began by the
 * clock and by its own task record. */
typedef struct {
    AT_FRAME;
    uint64_t ns, entered, recorded;
} busy_state;

AT_ASYNC_FN(busy, busy_state)
{
    AT_BEGIN(busy_state);
    self->entered = at_now_ns();
    self->recorded = at_task_current()->poll_start_ns;
    busy_wait(self->ns);
    AT_END;
}
static at_frame *busy(busy_state *s, uint64_t ns)
{
    s->ns = ns;
    return AT_START(s, busy);
}

/* Three busy polls in a row: each one's poll_start_ns is its own start,
 * not a reading left from before the previous poll (no later than the
 * truth, and well within a millisecond of it). */
typedef struct {
    AT_FRAME;
    at_join_handle h[3];
    uint64_t before, after;
    int i;
    at_join_fut join;
} stamps_state;

AT_ASYNC_FN(stamps, stamps_state)
{
    AT_BEGIN(stamps_state);
    self->before = at_now_ns();
    for (self->i = 0; self->i < 3; self->i++)
        self->h[self->i] = AT_SPAWN(NULL, "busy", busy_state, busy, 30 * AT_MS);
    for (self->i = 0; self->i < 3; self->i++)
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
    self->after = at_now_ns();
    AT_END;
}

AT_TEST(timestamps_follow_the_polls)
{
    at_flavor fl[2] = {AT_FLAVOR_CURRENT_THREAD, AT_FLAVOR_MULTI_THREAD};
    for (int k = 0; k < 2; k++) {
        at_runtime *rt = rt_new(fl[k], 1);
        stamps_state st;
        memset(&st, 0, sizeof st);
        AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, stamps), "stamps"), 0);
        uint64_t prev_start = 0;
        for (int i = 0; i < 3; i++) {
            at_task *t = st.h[i].task;
            busy_state *b = at_join_handle_state(st.h[i]);
            AT_ASSERT_EQ_U64(b->recorded, t->poll_start_ns);
            CU_ASSERT(t->poll_start_ns <= b->entered);
            /* The previous poll took 30 ms: a stale start would show it. */
            CU_ASSERT(b->entered - t->poll_start_ns < 10 * AT_MS);
            CU_ASSERT(t->poll_end_ns >= b->entered + 30 * AT_MS - 1 * AT_MS);
            CU_ASSERT(t->poll_end_ns <= st.after);
            AT_ASSERT_EQ_U64(t->state_ns, t->poll_end_ns);
            /* Created inside the spawner's poll: not before it began
             * (give or take a coarse clock tick), not after the spawn. */
            CU_ASSERT(t->created_ns + 10 * AT_MS >= st.before);
            CU_ASSERT(t->created_ns <= t->poll_start_ns);
            if (i) /* after the previous task's 30 ms poll */
                CU_ASSERT(t->poll_start_ns >= prev_start + 30 * AT_MS);
            prev_start = t->poll_start_ns;
            at_join_handle_release(&st.h[i]);
        }
        CU_ASSERT(__atomic_load_n(&rt->now_ns, __ATOMIC_RELAXED) <= at_now_ns());
        at_runtime_free(rt);
    }
}

/* ====================================================================== */
/* Stress: both flavors                                                   */
/* ====================================================================== */

/* Producers send numbered messages into one small channel; the consumer
 * checks every producer's sequence.  Then ping-pong between two tasks.
 * Any lost wake-up hangs the test (the make target's timeout fails it). */
#define NPROD 6

typedef struct {
    AT_FRAME;
    at_chan *c;
    uint64_t p, i, n, msg;
    at_chan_send_fut send;
} prod_state;

AT_ASYNC_FN(prod, prod_state)
{
    AT_BEGIN(prod_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->msg = (self->p << 32) | self->i;
        AT_AWAIT(at_chan_send(&self->send, self->c, &self->msg));
        CU_ASSERT_FATAL(self->send.status == 0);
    }
    at_chan_sender_drop(self->c);
    AT_END;
}
static at_frame *prod(prod_state *s, at_chan *c, uint64_t p, uint64_t n)
{
    s->c = c;
    s->p = p;
    s->n = n;
    return AT_START(s, prod);
}

typedef struct {
    AT_FRAME;
    at_chan *c, *in, *out;
    uint64_t n, next[NPROD], got, msg, i;
    int k;
    at_join_handle h[NPROD + 1];
    union {
        at_chan_recv_fut recv;
        at_chan_send_fut send;
        at_join_fut join;
    } aw;
} stress_state;

typedef struct {
    AT_FRAME;
    at_chan *in, *out;
    uint64_t n, i, msg;
    union {
        at_chan_recv_fut recv;
        at_chan_send_fut send;
    } aw;
} pong_state;

AT_ASYNC_FN(pong, pong_state)
{
    AT_BEGIN(pong_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->in, &self->msg));
        CU_ASSERT_FATAL(self->aw.recv.status == 0);
        AT_AWAIT(at_chan_send(&self->aw.send, self->out, &self->msg));
        CU_ASSERT_FATAL(self->aw.send.status == 0);
    }
    AT_END;
}
static at_frame *pong(pong_state *s, at_chan *in, at_chan *out, uint64_t n)
{
    s->in = in;
    s->out = out;
    s->n = n;
    return AT_START(s, pong);
}

AT_ASYNC_FN(stress, stress_state)
{
    AT_BEGIN(stress_state);
    for (self->k = 0; self->k < NPROD; self->k++) {
        if (self->k)
            at_chan_sender_clone(self->c);
        self->h[self->k] = AT_SPAWN(NULL, "prod", prod_state, prod, self->c,
                                    (uint64_t)self->k, self->n);
    }
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->c, &self->msg));
        if (self->aw.recv.status != 0)
            break;
        uint64_t p = self->msg >> 32;
        CU_ASSERT_FATAL(p < NPROD && self->next[p] == (self->msg & 0xffffffffu));
        self->next[p]++;
        self->got++;
    }
    AT_ASSERT_EQ_INT(self->aw.recv.status, AT_ECLOSED);
    for (self->k = 0; self->k < NPROD; self->k++) {
        AT_AWAIT(at_join(&self->aw.join, self->h[self->k]));
        at_join_handle_release(&self->h[self->k]);
    }
    /* Ping-pong. */
    self->h[NPROD] = AT_SPAWN(NULL, "pong", pong_state, pong, self->out, self->in, self->n);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->msg = self->i;
        AT_AWAIT(at_chan_send(&self->aw.send, self->out, &self->msg));
        CU_ASSERT_FATAL(self->aw.send.status == 0);
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->in, &self->msg));
        CU_ASSERT_FATAL(self->aw.recv.status == 0 && self->msg == self->i);
    }
    AT_AWAIT(at_join(&self->aw.join, self->h[NPROD]));
    at_join_handle_release(&self->h[NPROD]);
    AT_END;
}

static void run_stress(at_flavor flavor, unsigned workers, uint64_t n, size_t cap)
{
    at_runtime *rt = rt_new(flavor, workers);
    stress_state *st = calloc(1, sizeof *st);
    st->c = at_chan_new_bounded(sizeof(uint64_t), cap, NULL);
    st->in = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
    st->out = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
    st->n = n;
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(st, stress), "stress"), 0);
    AT_ASSERT_EQ_U64(st->got, NPROD * n);
    at_chan_receiver_drop(st->c);
    at_chan *pp[2] = {st->in, st->out};
    for (int i = 0; i < 2; i++) {
        at_chan_sender_drop(pp[i]);
        at_chan_receiver_drop(pp[i]);
    }
    free(st);
    at_runtime_free(rt);
}

AT_TEST(stress_current_thread)
{
    run_stress(AT_FLAVOR_CURRENT_THREAD, 1, scale(50000), 4);
}

AT_TEST(stress_multi_thread)
{
    run_stress(AT_FLAVOR_MULTI_THREAD, 2, scale(50000), 4);
    run_stress(AT_FLAVOR_MULTI_THREAD, 4, scale(20000), 1);
}

/* Tasks spawned on workers, finished on others, released by the spawner:
 * blocks travel between the workers' caches and the depot. */
typedef struct {
    AT_FRAME;
    long i, n;
    uint64_t sum;
    at_join_handle *h;
    at_join_fut join;
} spawner_state;

AT_ASYNC_FN(spawner, spawner_state)
{
    AT_BEGIN(spawner_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->h[self->i] = AT_SPAWN(NULL, "marker", marker_state, marker, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(self->h[self->i].task);
    }
    for (self->i = 0; self->i < self->n; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        self->sum += ((marker_state *)at_join_handle_state(self->h[self->i]))->seen;
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

typedef struct {
    AT_FRAME;
    int k;
    at_join_handle h[4];
    spawner_state s[4];
    at_join_fut join;
} spawners_state;

AT_ASYNC_FN(spawners, spawners_state)
{
    AT_BEGIN(spawners_state);
    for (self->k = 0; self->k < 4; self->k++)
        self->h[self->k] = at_spawn_frame(NULL, AT_START(&self->s[self->k], spawner), "spawner");
    for (self->k = 0; self->k < 4; self->k++) {
        AT_AWAIT(at_join(&self->join, self->h[self->k]));
        at_join_handle_release(&self->h[self->k]);
    }
    AT_END;
}

AT_TEST(stress_pool_across_workers)
{
    at_runtime *rt = rt_new(AT_FLAVOR_MULTI_THREAD, 2);
    spawners_state *st = calloc(1, sizeof *st);
    long n = (long)scale(20000);
    for (int round = 0; round < 3; round++) {
        memset(st, 0, sizeof *st);
        for (int k = 0; k < 4; k++) {
            st->s[k].n = n;
            st->s[k].h = calloc((size_t)n, sizeof(at_join_handle));
        }
        AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(st, spawners), "spawners"), 0);
        for (int k = 0; k < 4; k++) {
            AT_ASSERT_EQ_U64(st->s[k].sum, 0);
            free(st->s[k].h);
        }
    }
    free(st);
    at_runtime_free(rt);
}
