/* test_trace_api.c - dumps requested from other threads: at_dump_runtime_tasks
 * while tasks are woken from another thread, on a runtime stuck in a poll
 * (timeout: a snapshot that says so), from the runtime's own thread
 * (refused), and many at once (served one after another; beyond
 * AT_DUMP_MAX_PENDING refused with AT_EBUSY, never a deadlock). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/runtime_state.h" /* white-box checks of private state */
#include "trace_util.h"

#define WAITERS 20
#define STOP (-1)

/* ---- A runtime on its own thread ---- */

typedef struct {
    at_runtime *rt;
    at_frame *main;
    pthread_t thread;
    int rc;
} rt_thread;

static void *rt_thread_run(void *arg)
{
    rt_thread *r = arg;
    r->rc = at_block_on(r->rt, r->main, "main");
    return NULL;
}

static void rt_thread_start(rt_thread *r, at_frame *main)
{
    r->rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->rt);
    r->main = main;
    AT_ASSERT_EQ_INT(pthread_create(&r->thread, NULL, rt_thread_run, r), 0);
}

static void rt_thread_join(rt_thread *r)
{
    pthread_join(r->thread, NULL);
    AT_ASSERT_EQ_INT(r->rc, 0);
    at_runtime_free(r->rt);
}

/* ---- Waiters fed by another thread ---- */

typedef struct {
    AT_FRAME;
    at_chan *chan;
    int msg, received;
    at_chan_recv_fut recv;
} waiter_state;

AT_ASYNC_FN(waiter, waiter_state)
{
    AT_BEGIN(waiter_state);
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->recv, self->chan, &self->msg));
        if (self->recv.status != 0 || self->msg == STOP)
            break;
        self->received++;
    }
    AT_END;
}
static at_frame *waiter(waiter_state *s, at_chan *c)
{
    s->chan = c;
    s->received = 0;
    return AT_START(s, waiter);
}

typedef struct {
    AT_FRAME;
    int i;
    at_chan *chans[WAITERS];
    at_join_handle h[WAITERS];
    _Atomic int ready;
    at_join_fut join;
    int received;
} feed_main_state;

AT_ASYNC_FN(feed_main, feed_main_state)
{
    AT_BEGIN(feed_main_state);
    for (self->i = 0; self->i < WAITERS; self->i++)
        self->h[self->i] = AT_SPAWN(NULL, "waiter", waiter_state, waiter, self->chans[self->i]);
    atomic_store(&self->ready, 1);
    for (self->i = 0; self->i < WAITERS; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        self->received += ((waiter_state *)at_join_handle_state(self->h[self->i]))->received;
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

static void send_blocking(at_chan *c, int v)
{
    while (at_chan_try_send(c, &v) == AT_EAGAIN)
        sched_yield();
}

AT_TEST(dump_from_another_thread_while_woken_from_another_thread)
{
    feed_main_state st;
    memset(&st, 0, sizeof(st));
    for (int i = 0; i < WAITERS; i++)
        st.chans[i] = at_chan_new_bounded(sizeof(int), 4, NULL);
    rt_thread r;
    rt_thread_start(&r, AT_START(&st, feed_main));
    while (!atomic_load(&st.ready))
        sched_yield();
    int sent = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < WAITERS; i++, sent++)
            send_blocking(st.chans[i], round);
        at_dump *d = NULL;
        AT_ASSERT_EQ_INT(at_dump_runtime_tasks(r.rt, 10 * AT_SEC, &d), 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        AT_ASSERT_EQ_STR(d->source, "live");
        AT_ASSERT_EQ_U64(d->nerrors, 0);
        AT_ASSERT_EQ_U64(d->nruntimes, 1);
        AT_ASSERT_EQ_U64(d->runtimes[0].id, r.rt->id);
        AT_ASSERT_EQ_U64(dump_task_count(d), WAITERS + 1);
        const at_dump_runtime *dr = &d->runtimes[0];
        for (size_t k = 0; k < dr->ntasks; k++) {
            const at_dump_task *t = &dr->tasks[k];
            /* Every task is traced: main waits in a join, waiters in a receive
             * (or, woken a moment ago, are about to receive). */
            AT_ASSERT_EQ_INT(t->traced, 1);
            AT_ASSERT_EQ_U64(t->nbacktraces, 1);
            const at_dump_backtrace *bt = &t->backtraces[0];
            AT_ASSERT_EQ_U64(bt->nframes, 2);
            AT_ASSERT_EQ_STR(bt->frames[0].symbol,
                             k == 0 ? "at__join_poll" : "at__chan_recv_poll");
            AT_ASSERT_EQ_STR(bt->frames[1].symbol, k == 0 ? "feed_main_poll" : "waiter_poll");
            AT_ASSERT_EQ_INT(bt->frames[0].verified && bt->frames[1].verified, 1);
        }
        at_dump_free(d);
    }
    for (int i = 0; i < WAITERS; i++)
        send_blocking(st.chans[i], STOP);
    rt_thread_join(&r);
    AT_ASSERT_EQ_INT(st.received, sent);
    for (int i = 0; i < WAITERS; i++) {
        at_chan_sender_drop(st.chans[i]);
        at_chan_receiver_drop(st.chans[i]);
    }
}

/* ---- A runtime stuck inside a poll ---- */

static _Atomic int stuck_release;
static _Atomic int stuck_entered;

typedef struct {
    AT_FRAME;
} stuck_state;

AT_ASYNC_FN(stuck, stuck_state)
{
    AT_BEGIN(stuck_state);
    atomic_store(&stuck_entered, 1);
    while (!atomic_load(&stuck_release))
        usleep(1000);
    AT_END;
}

static void stuck_start(rt_thread *r, stuck_state *s)
{
    atomic_store(&stuck_release, 0);
    atomic_store(&stuck_entered, 0);
    rt_thread_start(r, AT_START(s, stuck));
    while (!atomic_load(&stuck_entered))
        usleep(1000);
}

AT_TEST(dump_of_a_stuck_runtime_times_out_with_a_snapshot)
{
    rt_thread r;
    stuck_state s;
    stuck_start(&r, &s);
    at_dump *d = NULL;
    uint64_t t0 = at_now_ns();
    AT_ASSERT_EQ_INT(at_dump_runtime_tasks(r.rt, 100 * AT_MS, &d), AT_ETIMEDOUT);
    uint64_t waited = at_now_ns() - t0;
    CU_ASSERT_TRUE(waited >= 100 * AT_MS && waited < 5 * AT_SEC);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    AT_ASSERT_EQ_STR(d->source, "snapshot");
    AT_ASSERT_EQ_U64(d->nruntimes, 1);
    AT_ASSERT_EQ_U64(d->nerrors, 1);
    char want[160];
    snprintf(want, sizeof(want),
             "runtime %llu did not reach a safe point within 100 ms: this is a snapshot "
             "taken without polling (no native backtraces)",
             (unsigned long long)r.rt->id);
    AT_ASSERT_EQ_STR(d->errors[0], want);
    const at_dump_task *t = dump_task_named(d, "main");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    AT_ASSERT_EQ_INT(t->state, AT_TASK_RUNNING);
    CU_ASSERT_TRUE(t->thread > 0);
    at_dump_free(d);
    /* The withdrawn request left nothing behind; once released, the runtime
     * finishes normally. */
    CU_ASSERT_PTR_NULL(at__rt(r.rt)->dump_state);
    atomic_store(&stuck_release, 1);
    rt_thread_join(&r);
}

typedef struct {
    AT_FRAME;
    int rc;
    at_dump *d;
} self_dump_state;

AT_ASYNC_FN(self_dump, self_dump_state)
{
    AT_BEGIN(self_dump_state);
    /* Waiting for our own runtime's safe point from inside it would never
     * end: refused at once. */
    self->rc = at_dump_runtime_tasks(at_runtime_current(), 10 * AT_SEC, &self->d);
    AT_END;
}

AT_TEST(dump_runtime_from_its_own_thread_is_refused)
{
    self_dump_state st = {.rc = 1};
    at_runtime *rt = at_runtime_new(NULL);
    uint64_t t0 = at_now_ns();
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, self_dump), "main"), 0);
    CU_ASSERT_TRUE(at_now_ns() - t0 < AT_SEC);
    AT_ASSERT_EQ_INT(st.rc, AT_EINVAL);
    CU_ASSERT_PTR_NULL(st.d);
    at_dump *d = (at_dump *)1;
    AT_ASSERT_EQ_INT(at_dump_runtime_tasks(NULL, AT_SEC, &d), AT_EINVAL);
    CU_ASSERT_PTR_NULL(d);
    at_runtime_free(rt);
}

/* ---- Many requests at once ---- */

typedef struct {
    at_runtime *rt;
    int rc;
    at_dump *d;
    pthread_t th;
} requester;

static void *request_dump(void *arg)
{
    requester *q = arg;
    q->rc = at_dump_runtime_tasks(q->rt, 30 * AT_SEC, &q->d);
    return NULL;
}

static unsigned pending_requests(at_runtime *rt)
{
    unsigned n = 0;
    for (at_dump_request *q = __atomic_load_n((at_dump_request **)&at__rt(rt)->dump_state,
                                              __ATOMIC_ACQUIRE);
         q; q = __atomic_load_n(&q->next, __ATOMIC_ACQUIRE))
        n++;
    return n;
}

AT_TEST(concurrent_dumps_are_serialised_and_excess_refused)
{
    rt_thread r;
    stuck_state s;
    stuck_start(&r, &s);
    static requester q[AT_DUMP_MAX_PENDING];
    for (int i = 0; i < AT_DUMP_MAX_PENDING; i++) {
        q[i].rt = r.rt;
        AT_ASSERT_EQ_INT(pthread_create(&q[i].th, NULL, request_dump, &q[i]), 0);
    }
    uint64_t deadline = at_now_ns() + 10 * AT_SEC;
    while (pending_requests(r.rt) < AT_DUMP_MAX_PENDING && at_now_ns() < deadline)
        usleep(1000);
    AT_ASSERT_EQ_INT(pending_requests(r.rt), AT_DUMP_MAX_PENDING);
    at_dump *d = (at_dump *)1;
    AT_ASSERT_EQ_INT(at_dump_runtime_tasks(r.rt, 10 * AT_SEC, &d), AT_EBUSY);
    CU_ASSERT_PTR_NULL(d);
    /* Released, the runtime reaches its safe point and serves them all. */
    atomic_store(&stuck_release, 1);
    for (int i = 0; i < AT_DUMP_MAX_PENDING; i++) {
        pthread_join(q[i].th, NULL);
        AT_ASSERT_EQ_INT(q[i].rc, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i].d);
        AT_ASSERT_EQ_STR(q[i].d->source, "live");
        AT_ASSERT_EQ_U64(q[i].d->nerrors, 0);
        const at_dump_task *t = dump_task_named(q[i].d, "main");
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        /* Served at the safe point after its last poll: already complete. */
        AT_ASSERT_EQ_INT(t->state, AT_TASK_COMPLETE);
        AT_ASSERT_EQ_STR(t->trace_note, "complete");
        at_dump_free(q[i].d);
    }
    rt_thread_join(&r);
}

AT_TEST(freeing_a_runtime_answers_its_pending_dumps)
{
    /* Nobody drives this runtime: the request waits until the runtime is
     * freed, then gets AT_ESHUTDOWN (not a 30 s timeout). */
    requester q = {.rt = at_runtime_new(NULL)};
    CU_ASSERT_PTR_NOT_NULL_FATAL(q.rt);
    uint64_t t0 = at_now_ns();
    AT_ASSERT_EQ_INT(pthread_create(&q.th, NULL, request_dump, &q), 0);
    while (pending_requests(q.rt) < 1)
        usleep(1000);
    at_runtime_free(q.rt);
    pthread_join(q.th, NULL);
    AT_ASSERT_EQ_INT(q.rc, AT_ESHUTDOWN);
    CU_ASSERT_PTR_NULL(q.d);
    CU_ASSERT_TRUE(at_now_ns() - t0 < 10 * AT_SEC);
}
