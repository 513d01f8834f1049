/* test_mt.c - the multi-thread flavor: workers and their thread contexts,
 * 10,000 tasks on 4 workers, 1,000,000 channel messages each accounted
 * for, wakes from foreign threads, block_on rules, the blocking pool, and
 * shutdown with tasks in every state.
 *
 * ASYNCTRACE_TEST_SCALE=N divides the stress sizes by N (the TSan run). */
#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asynctrace.h"
#include "cunit_main.h"
#include "test_support.h"

static at_runtime *mt_new(unsigned workers)
{
    return mt_runtime(workers, "mt-test");
}

static int count_threads(void);

static void *no_op(void *arg)
{
    return arg;
}

/* The threads of the process before a test creates any: one thread is
 * created and joined first, because ThreadSanitizer starts its own
 * background thread at the first pthread_create of the process. */
static int count_threads_before(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, no_op, NULL) == 0)
        pthread_join(th, NULL);
    return count_threads();
}

static int count_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
    return n;
}

/* Threads of the snapshot registered for runtime `id` with `role`. */
static int threads_of(uint64_t id, uint32_t role, unsigned *worker_mask)
{
    at_dump *d = at_snapshot_take();
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    int n = 0;
    for (size_t i = 0; i < d->nthreads; i++)
        if (d->threads[i].runtime_id == id && d->threads[i].role == role) {
            n++;
            if (worker_mask && d->threads[i].worker >= 0)
                *worker_mask |= 1u << d->threads[i].worker;
        }
    at_dump_free(d);
    return n;
}

static const at_dump_task *find_task(const at_dump *d, uint64_t id)
{
    return at_dump_find_task(d, id);
}

/* ---- Workers register their contexts; shutdown leaves no thread ---- */

AT_TEST(mt_workers_register_and_exit)
{
    /* A first runtime starts whatever helper threads the process has
     * (sanitizers start one with the first thread). */
    at_runtime_free(mt_new(1));
    int before = count_threads_before();
    at_runtime *rt = mt_new(4);
    AT_ASSERT_EQ_INT(rt->flavor, AT_FLAVOR_MULTI_THREAD);
    AT_ASSERT_EQ_INT(rt->workers, 4);
    unsigned mask = 0;
    int n = 0;
    for (int tries = 0; tries < 200 && n < 4; tries++) {
        mask = 0;
        n = threads_of(rt->id, AT_ROLE_WORKER, &mask);
        if (n < 4)
            usleep(5000);
    }
    AT_ASSERT_EQ_INT(n, 4);
    AT_ASSERT_EQ_U64(mask, 0xf);
    AT_ASSERT_EQ_INT(count_threads(), before + 4);
    uint64_t id = rt->id;
    at_runtime_free(rt);
    AT_ASSERT_EQ_INT(threads_of(id, AT_ROLE_WORKER, NULL), 0);
    AT_ASSERT_EQ_INT(count_threads(), before);
}

AT_TEST(mt_default_workers_is_cpu_count)
{
    at_runtime_options o = {AT_FLAVOR_MULTI_THREAD, 0, NULL};
    at_runtime *rt = at_runtime_new(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    AT_ASSERT_EQ_U64(rt->workers, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    at_runtime_free(rt);
}

/* ---- 10,000 tasks on 4 workers ---- */

typedef struct {
    AT_FRAME;
    _Atomic int *ran;
    _Atomic unsigned *workers_seen;
    int idx, out;
    union {
        at_yield_fut y;
        at_sleep_fut s;
    } aw;
} work_state;

/* Keep this worker inside a poll until another worker has run a task (at
 * most 60 s).  Task 0 does this on its first poll: the other tasks can then
 * finish only if other workers take them, so "more than one worker ran
 * tasks" holds however the machine's load schedules the worker threads. */
static void hold_until_another_worker(_Atomic unsigned *seen, unsigned me)
{
    atomic_fetch_or(seen, 1u << me);
    for (int i = 0; i < 60000 && !(atomic_load(seen) & ~(1u << me)); i++)
        usleep(1000);
}

AT_ASYNC_FN(work, work_state)
{
    AT_BEGIN(work_state);
    if (self->idx == 0)
        hold_until_another_worker(self->workers_seen, at_task_current()->worker);
    AT_AWAIT(at_yield(&self->aw.y));
    if (self->idx % 10 == 0)
        AT_AWAIT(at_sleep(&self->aw.s, 1 * AT_MS));
    atomic_fetch_add(self->ran, 1);
    atomic_fetch_or(self->workers_seen, 1u << at_task_current()->worker);
    self->out = self->idx * 2;
    AT_END;
}
static at_frame *work(work_state *s, _Atomic int *ran, _Atomic unsigned *seen, int idx)
{
    s->ran = ran;
    s->workers_seen = seen;
    s->idx = idx;
    return AT_START(s, work);
}

typedef struct {
    AT_FRAME;
    int n, i, bad;
    _Atomic int ran;
    _Atomic unsigned seen;
    at_join_handle *h;
    at_join_fut join;
} spawner_state;

AT_ASYNC_FN(spawner, spawner_state)
{
    AT_BEGIN(spawner_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->h[self->i] = AT_SPAWN(NULL, "work", work_state, work, &self->ran, &self->seen, self->i);
        if (!self->h[self->i].task)
            self->bad++;
    }
    for (self->i = 0; self->i < self->n; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        work_state *ws = at_join_handle_state(self->h[self->i]);
        if (self->join.status != 0 || ws->out != self->i * 2)
            self->bad++;
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

AT_TEST(mt_ten_thousand_tasks_on_four_workers)
{
    at_runtime *rt = mt_new(4);
    spawner_state st;
    memset(&st, 0, sizeof st);
    st.n = (int)scale(10000);
    st.h = calloc((size_t)st.n, sizeof(*st.h));
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, spawner), "spawner"), 0);
    AT_ASSERT_EQ_INT(st.bad, 0);
    AT_ASSERT_EQ_INT(atomic_load(&st.ran), st.n);
    /* With task 0 holding its worker, the other workers ran tasks. */
    CU_ASSERT_TRUE(__builtin_popcount(atomic_load(&st.seen)) >= 2);
    CU_ASSERT_TRUE((atomic_load(&st.seen) & ~0xfu) == 0);
    AT_ASSERT_EQ_U64(rt->spawned_total, (uint64_t)st.n + 1);
    free(st.h);
    at_runtime_free(rt);
}

/* ---- 1,000,000 messages through one channel, 8 producers ---- */

#define PRODUCERS 8

typedef struct {
    AT_FRAME;
    at_chan *chan;
    uint64_t p, i, n;
    uint64_t msg;
    at_chan_send_fut send;
} producer_state;

AT_ASYNC_FN(producer, producer_state)
{
    AT_BEGIN(producer_state);
    for (self->i = 0; self->i < self->n; self->i++) {
        self->msg = (self->p << 32) | self->i;
        AT_AWAIT(at_chan_send(&self->send, self->chan, &self->msg));
        if (self->send.status != 0)
            break;
    }
    at_chan_sender_drop(self->chan);
    AT_END;
}

typedef struct {
    AT_FRAME;
    at_chan *chan;
    uint64_t next[PRODUCERS];
    uint64_t received, out_of_order, sum;
    uint64_t msg;
    int status;
    at_chan_recv_fut recv;
} consumer_state;

AT_ASYNC_FN(consumer, consumer_state)
{
    AT_BEGIN(consumer_state);
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->recv, self->chan, &self->msg));
        if (self->recv.status != 0)
            break;
        uint64_t p = self->msg >> 32, i = self->msg & 0xffffffffu;
        if (p >= PRODUCERS || self->next[p] != i)
            self->out_of_order++;
        else
            self->next[p]++;
        self->received++;
        self->sum += self->msg;
    }
    self->status = self->recv.status;
    at_chan_receiver_drop(self->chan);
    AT_END;
}

typedef struct {
    AT_FRAME;
    uint64_t per_producer;
    int i, bad;
    at_chan *chan;
    producer_state prod[PRODUCERS];
    consumer_state cons;
    at_join_handle h[PRODUCERS + 1];
    at_join_fut join;
} chan_root_state;

AT_ASYNC_FN(chan_root, chan_root_state)
{
    AT_BEGIN(chan_root_state);
    self->chan = at_chan_new_bounded(sizeof(uint64_t), 256, NULL);
    for (self->i = 1; self->i < PRODUCERS; self->i++)
        at_chan_sender_clone(self->chan);
    self->cons.chan = self->chan;
    self->h[PRODUCERS] = at_spawn_frame(NULL, AT_START(&self->cons, consumer), "consumer");
    for (self->i = 0; self->i < PRODUCERS; self->i++) {
        producer_state *p = &self->prod[self->i];
        p->chan = self->chan;
        p->p = (uint64_t)self->i;
        p->n = self->per_producer;
        self->h[self->i] = at_spawn_frame(NULL, AT_START(p, producer), "producer");
    }
    for (self->i = 0; self->i <= PRODUCERS; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        if (self->join.status)
            self->bad++;
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

static void check_chan_root(chan_root_state *st)
{
    uint64_t total = st->per_producer * PRODUCERS;
    uint64_t n = st->per_producer;
    AT_ASSERT_EQ_INT(st->bad, 0);
    AT_ASSERT_EQ_U64(st->cons.received, total);
    AT_ASSERT_EQ_U64(st->cons.out_of_order, 0);
    AT_ASSERT_EQ_INT(st->cons.status, AT_ECLOSED);
    uint64_t expect = 0;
    for (uint64_t p = 0; p < PRODUCERS; p++) {
        AT_ASSERT_EQ_U64(st->cons.next[p], n);
        expect += (p << 32) * n + n * (n - 1) / 2;
    }
    AT_ASSERT_EQ_U64(st->cons.sum, expect);
}

AT_TEST(mt_million_channel_messages_all_accounted)
{
    at_runtime *rt = mt_new(4);
    chan_root_state *st = calloc(1, sizeof(*st));
    st->per_producer = scale(1000000) / PRODUCERS;
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(st, chan_root), "chan-root"), 0);
    check_chan_root(st);
    free(st);
    at_runtime_free(rt);
}

/* ---- Dumps taken again and again during the stress run ---- */

typedef struct {
    at_runtime *rt;
    _Atomic int stop;
    _Atomic int dumps, failures;
    int untraced, late, traced_with_frames, tasks_seen;
} dumper_ctx;

static void *dumper_main(void *arg)
{
    dumper_ctx *c = arg;
    while (!atomic_load(&c->stop)) {
        at_dump *d = NULL;
        int rc = at_dump_runtime_tasks(c->rt, 10 * AT_SEC, &d);
        if (rc != 0 || !d || d->nruntimes != 1 ||
            d->runtimes[0].flavor != AT_FLAVOR_MULTI_THREAD || d->runtimes[0].workers != 4) {
            c->failures++;
        } else {
            c->dumps++;
            const at_dump_runtime *r = &d->runtimes[0];
            for (size_t i = 0; i < r->ntasks; i++) {
                const at_dump_task *t = &r->tasks[i];
                c->tasks_seen++;
                if (t->traced && t->nbacktraces && t->backtraces[0].nframes)
                    c->traced_with_frames++;
                /* Only a worker late at the barrier (noted in the dump) can
                 * hold a task the dump cannot take. */
                /* A finished task may be freed by the block_on caller
                 * between the snapshot and the trace: that is no miss. */
                if (!t->traced && t->trace_note && !strncmp(t->trace_note, "not-polled", 10) &&
                    t->state != AT_TASK_COMPLETE && t->state != AT_TASK_CANCELLED) {
                    if (d->nerrors)
                        c->late++;
                    else {
                        c->untraced++;
                        fprintf(stderr, "untraced task %llu (%s): %s\n",
                                (unsigned long long)t->id, t->name, t->trace_note);
                    }
                }
            }
        }
        at_dump_free(d);
        usleep(2000);
    }
    return NULL;
}

AT_TEST(mt_repeated_dumps_during_stress)
{
    at_runtime *rt = mt_new(4);
    dumper_ctx c = {.rt = rt};
    pthread_t th;
    pthread_create(&th, NULL, dumper_main, &c);
    /* Rounds of 200,000 messages until 20 dumps were taken during them. */
    int rounds = 0;
    uint64_t t0 = at_now_ns();
    do {
        chan_root_state *st = calloc(1, sizeof(*st));
        st->per_producer = scale(200000) / PRODUCERS;
        AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(st, chan_root), "chan-root"), 0);
        check_chan_root(st);
        free(st);
        rounds++;
    } while (c.dumps + c.failures < 20 && at_now_ns() - t0 < 20 * AT_SEC);
    atomic_store(&c.stop, 1);
    pthread_join(th, NULL);
    AT_ASSERT_EQ_INT(c.failures, 0);
    CU_ASSERT_TRUE(c.dumps >= 20);
    AT_ASSERT_EQ_INT(c.untraced, 0);
    CU_ASSERT_TRUE(c.traced_with_frames >= c.dumps);
    at_runtime_free(rt);
}

/* ---- Wakes from threads that are not workers ---- */

typedef struct {
    at_chan *chan;
    int p, n;
} foreign_sender;

static void *foreign_send_main(void *arg)
{
    foreign_sender *f = arg;
    for (int i = 0; i < f->n; i++) {
        uint64_t m = ((uint64_t)f->p << 32) | (uint64_t)i;
        while (at_chan_try_send(f->chan, &m) == AT_EAGAIN)
            ;
        if (i % 1000 == 0)
            usleep(100); /* let the consumer park now and then */
    }
    at_chan_sender_drop(f->chan);
    return NULL;
}

typedef struct {
    AT_FRAME;
    at_notify *notify;
    sem_t *ack;
    int rounds, i;
    at_notify_wait_fut wait;
} ponger_state;

AT_ASYNC_FN(ponger, ponger_state)
{
    AT_BEGIN(ponger_state);
    for (self->i = 0; self->i < self->rounds; self->i++) {
        AT_AWAIT(at_notify_wait(&self->wait, self->notify));
        sem_post(self->ack);
    }
    AT_END;
}

AT_TEST(mt_wakes_from_foreign_threads)
{
    at_runtime *rt = mt_new(4);
    /* 4 threads x 10,000 messages into an unbounded channel. */
    consumer_state *cons = calloc(1, sizeof(*cons));
    cons->chan = at_chan_new_unbounded(sizeof(uint64_t), NULL);
    at_join_handle hc = at_spawn_frame(rt, AT_START(cons, consumer), "consumer");
    CU_ASSERT_PTR_NOT_NULL_FATAL(hc.task);
    int per = (int)scale(10000);
    foreign_sender fs[4];
    pthread_t th[4];
    for (int i = 1; i < 4; i++)
        at_chan_sender_clone(cons->chan);
    for (int i = 0; i < 4; i++) {
        fs[i] = (foreign_sender){cons->chan, i, per};
        pthread_create(&th[i], NULL, foreign_send_main, &fs[i]);
    }
    /* Meanwhile: 1,000 notify/ack round trips with a foreign thread. */
    at_notify n;
    sem_t ack;
    at_notify_init(&n);
    sem_init(&ack, 0, 0);
    ponger_state ps = {.notify = &n, .ack = &ack, .rounds = (int)scale(1000)};
    at_join_handle hp = at_spawn_frame(rt, AT_START(&ps, ponger), "ponger");
    for (int i = 0; i < ps.rounds; i++) {
        at_notify_one(&n);
        sem_wait(&ack);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* The consumer ends when every sender is gone and the queue is empty. */
    for (int tries = 0; tries < 20000 && atomic_load(&hc.task->state) != AT_TASK_COMPLETE; tries++)
        usleep(1000);
    for (int tries = 0; tries < 20000 && atomic_load(&hp.task->state) != AT_TASK_COMPLETE; tries++)
        usleep(1000);
    AT_ASSERT_EQ_INT(atomic_load(&hc.task->state), AT_TASK_COMPLETE);
    AT_ASSERT_EQ_INT(atomic_load(&hp.task->state), AT_TASK_COMPLETE);
    AT_ASSERT_EQ_U64(cons->received, 4ull * (uint64_t)per);
    AT_ASSERT_EQ_U64(cons->out_of_order, 0);
    for (int i = 0; i < 4; i++)
        AT_ASSERT_EQ_U64(cons->next[i], (uint64_t)per);
    AT_ASSERT_EQ_INT(ps.i, ps.rounds);
    at_join_handle_release(&hc);
    at_join_handle_release(&hp);
    at_runtime_free(rt);
    sem_destroy(&ack);
    free(cons);
}

/* ---- block_on rules ---- */

typedef struct {
    AT_FRAME;
    at_runtime *rt;
    int rc;
    work_state inner;
} nested_state;

AT_ASYNC_FN(nested, nested_state)
{
    AT_BEGIN(nested_state);
    self->rc = at_block_on(self->rt, AT_START(&self->inner, work), "inner");
    AT_END;
}

AT_TEST(mt_block_on_from_a_worker_is_refused)
{
    at_runtime *rt = mt_new(2);
    nested_state st = {.rt = rt};
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, nested), "nested"), 0);
    AT_ASSERT_EQ_INT(st.rc, AT_EINVAL);
    at_runtime_free(rt);
}

/* Two threads block on the same runtime at once. */
typedef struct {
    at_runtime *rt;
    int rc;
    _Atomic int ran;
    _Atomic unsigned seen;
    work_state w;
} blocker_ctx;

static void *blocker_main(void *arg)
{
    blocker_ctx *c = arg;
    c->rc = at_block_on(c->rt, work(&c->w, &c->ran, &c->seen, 5), "blocker");
    return NULL;
}

AT_TEST(mt_concurrent_block_on_callers)
{
    at_runtime *rt = mt_new(2);
    blocker_ctx c[3];
    pthread_t th[3];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 3; i++) {
        c[i].rt = rt;
        pthread_create(&th[i], NULL, blocker_main, &c[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        AT_ASSERT_EQ_INT(c[i].rc, 0);
        AT_ASSERT_EQ_INT(c[i].w.out, 10);
        AT_ASSERT_EQ_INT(atomic_load(&c[i].ran), 1);
    }
    at_runtime_free(rt);
}

/* ---- Blocking pool ---- */

static sem_t job_gate; /* each job waits for one post */

static void *slow_triple(void *arg)
{
    sem_wait(&job_gate);
    return (void *)((uintptr_t)arg * 3);
}

typedef struct {
    AT_FRAME;
    uintptr_t arg, result;
    int status;
    at_blocking_fut b;
} offload_state;

AT_ASYNC_FN(offload, offload_state)
{
    AT_BEGIN(offload_state);
    AT_AWAIT(at_spawn_blocking(&self->b, slow_triple, (void *)self->arg));
    self->status = self->b.status;
    self->result = (uintptr_t)self->b.result;
    AT_END;
}

static void blocking_pool_on(at_runtime *rt)
{
    int before = count_threads_before();
    sem_init(&job_gate, 0, 0);
    offload_state st[6];
    at_join_handle h[6];
    for (int i = 0; i < 6; i++) {
        memset(&st[i], 0, sizeof st[i]);
        st[i].arg = (uintptr_t)i + 1;
        h[i] = at_spawn_frame(rt, AT_START(&st[i], offload), "offload");
    }
    if (rt->flavor == AT_FLAVOR_MULTI_THREAD) {
        /* While the jobs run: pool threads are registered, and each task
         * waits in the blocking leaf with its job id. */
        for (int i = 0; i < 6; i++)
            while (atomic_load(&h[i].task->state) != AT_TASK_IDLE)
                usleep(1000);
        /* Six gated jobs hold six pool threads, each registered. */
        int n = 0;
        for (int tries = 0; tries < 5000 && n < 6; tries++) {
            n = threads_of(rt->id, AT_ROLE_BLOCKING, NULL);
            if (n < 6)
                usleep(1000);
        }
        AT_ASSERT_EQ_INT(n, 6);
        at_dump *d = at_snapshot_take();
        int waiting = 0;
        for (int i = 0; i < 6; i++) {
            const at_dump_task *t = find_task(d, at_join_handle_id(h[i]));
            const at_dump_frame *f = t ? t->await : NULL;
            if (f && f->nchildren && f->children[0].resource &&
                f->children[0].resource->kind == AT_RES_BLOCKING &&
                f->children[0].resource->detail[0] >= 1 && f->children[0].resource->detail[0] <= 6 &&
                !strcmp(f->children[0].function, "at_spawn_blocking"))
                waiting++;
        }
        AT_ASSERT_EQ_INT(waiting, 6);
        at_dump_free(d);
        for (int i = 0; i < 6; i++)
            sem_post(&job_gate);
        for (int i = 0; i < 6; i++)
            while (atomic_load(&h[i].task->state) != AT_TASK_COMPLETE)
                usleep(1000);
    } else {
        /* Current-thread: the six spawned tasks run during these block_on
         * calls; one post per job in all. */
        for (int i = 0; i < 6; i++)
            sem_post(&job_gate);
        for (int i = 0; i < 6; i++) {
            offload_state one;
            memset(&one, 0, sizeof one);
            one.arg = 100;
            sem_post(&job_gate);
            AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&one, offload), "one"), 0);
            AT_ASSERT_EQ_U64(one.result, 300);
        }
    }
    for (int i = 0; i < 6; i++) {
        if (rt->flavor == AT_FLAVOR_MULTI_THREAD) {
            AT_ASSERT_EQ_INT(st[i].status, 0);
            AT_ASSERT_EQ_U64(st[i].result, 3 * ((uintptr_t)i + 1));
        }
        at_join_handle_release(&h[i]);
    }
    uint64_t id = rt->id;
    at_runtime_free(rt);
    sem_destroy(&job_gate);
    AT_ASSERT_EQ_INT(threads_of(id, AT_ROLE_BLOCKING, NULL), 0);
    CU_ASSERT_TRUE(count_threads() <= before);
}

AT_TEST(mt_spawn_blocking_results_and_threads)
{
    blocking_pool_on(mt_new(2));
}

AT_TEST(current_thread_spawn_blocking)
{
    blocking_pool_on(at_runtime_new(NULL));
}

/* ---- Shutdown with tasks in every state ---- */

typedef struct {
    AT_FRAME;
    _Atomic int *started;
    uint64_t spin_ns;
    at_yield_fut y;
} spinner_state;

/* Busy inside one poll until its runtime starts shutting down (at most
 * spin_ns), then yields: never polled again. */
AT_ASYNC_FN(spinner, spinner_state)
{
    AT_BEGIN(spinner_state);
    atomic_store(self->started, 1);
    {
        at_runtime *rt = at_runtime_current();
        uint64_t end = at_now_ns() + self->spin_ns;
        while (at_now_ns() < end &&
               !(__atomic_load_n(&rt->flags, __ATOMIC_ACQUIRE) & AT_RTF_SHUTDOWN))
            ;
    }
    AT_AWAIT(at_yield(&self->y));
    AT_END;
}

typedef struct {
    AT_FRAME;
    at_notify *n;
    at_notify_wait_fut w;
} waiter_state;
AT_ASYNC_FN(waiter, waiter_state)
{
    AT_BEGIN(waiter_state);
    AT_AWAIT(at_notify_wait(&self->w, self->n));
    AT_END;
}

typedef struct {
    AT_FRAME;
    at_sleep_fut s;
} sleeper_state;
AT_ASYNC_FN(sleeper, sleeper_state)
{
    AT_BEGIN(sleeper_state);
    AT_AWAIT(at_sleep(&self->s, 60 * AT_SEC));
    AT_END;
}

typedef struct {
    AT_FRAME;
    at_io *io;
    char buf[8];
    at_io_op_fut rd;
} reader_state;
AT_ASYNC_FN(reader, reader_state)
{
    AT_BEGIN(reader_state);
    AT_AWAIT(at_io_read(&self->rd, self->io, self->buf, sizeof self->buf));
    AT_END;
}

typedef struct {
    AT_FRAME;
} done_state;
AT_ASYNC_FN(done_fn, done_state)
{
    AT_BEGIN(done_state);
    AT_END;
}

static void *gated(void *arg)
{
    sem_wait(arg);
    return arg;
}

typedef struct {
    AT_FRAME;
    sem_t *gate;
    at_blocking_fut b;
} gated_state;
AT_ASYNC_FN(gated_task, gated_state)
{
    AT_BEGIN(gated_state);
    AT_AWAIT(at_spawn_blocking(&self->b, gated, self->gate));
    AT_END;
}

enum { S_COMPLETE, S_CANCELLED, S_IDLE, S_SLEEP, S_IO, S_BLOCKING, S_RUNNING, S_SCHEDULED, S_N };

AT_TEST(mt_shutdown_with_tasks_in_every_state)
{
    int before = count_threads_before();
    at_runtime *rt = mt_new(1);
    at_join_handle h[S_N];
    _Atomic int started = 0;
    at_notify n;
    at_notify_init(&n);
    int fds[2];
    AT_ASSERT_EQ_INT(at_pipe(fds), 0);
    at_io *io = at_io_open(rt, fds[0], NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(io);

    done_state ds, ds2;
    waiter_state ws = {.n = &n};
    sleeper_state ss, ss2;
    reader_state rs = {.io = io};
    sem_t gate;
    sem_init(&gate, 0, 0);
    gated_state gs = {.gate = &gate};
    spinner_state sp = {.started = &started, .spin_ns = 30 * AT_SEC};
    h[S_COMPLETE] = at_spawn_frame(rt, AT_START(&ds, done_fn), "complete");
    while (atomic_load(&h[S_COMPLETE].task->state) != AT_TASK_COMPLETE)
        usleep(1000);
    h[S_IDLE] = at_spawn_frame(rt, AT_START(&ws, waiter), "idle");
    h[S_SLEEP] = at_spawn_frame(rt, AT_START(&ss, sleeper), "sleeping");
    h[S_IO] = at_spawn_frame(rt, AT_START(&rs, reader), "io");
    h[S_BLOCKING] = at_spawn_frame(rt, AT_START(&gs, gated_task), "blocking");
    for (int i = S_IDLE; i <= S_BLOCKING; i++)
        while (atomic_load(&h[i].task->state) != AT_TASK_IDLE)
            usleep(1000);
    AT_ASSERT_EQ_U64(n.waiters, 1);
    h[S_RUNNING] = at_spawn_frame(rt, AT_START(&sp, spinner), "running");
    while (!atomic_load(&started))
        usleep(100);
    /* The only worker is busy: these stay queued. */
    h[S_SCHEDULED] = at_spawn_frame(rt, AT_START(&ds2, done_fn), "scheduled");
    h[S_CANCELLED] = at_spawn_frame(rt, AT_START(&ss2, sleeper), "cancelled");
    at_task_abort(h[S_CANCELLED]);

    const uint32_t want[S_N] = {AT_TASK_COMPLETE, AT_TASK_SCHEDULED, AT_TASK_IDLE,
                                AT_TASK_IDLE, AT_TASK_IDLE, AT_TASK_IDLE,
                                AT_TASK_RUNNING, AT_TASK_SCHEDULED};
    for (int i = 0; i < S_N; i++)
        AT_ASSERT_EQ_INT(atomic_load(&h[i].task->state), want[i]);

    /* The blocking job finishes during the shutdown, which waits for it. */
    sem_post(&gate);
    at_runtime_free(rt);
    sem_destroy(&gate);

    /* Everything unfinished was cancelled, the finished task kept its
     * result, the drop hooks ran (no notify waiter left), and no thread of
     * the runtime is left. */
    for (int i = 0; i < S_N; i++) {
        uint32_t s = atomic_load(&h[i].task->state);
        AT_ASSERT_EQ_INT(s, i == S_COMPLETE ? AT_TASK_COMPLETE : AT_TASK_CANCELLED);
        AT_ASSERT_EQ_INT(h[i].task->result, i == S_COMPLETE ? 0 : AT_ECANCELED);
        at_join_handle_release(&h[i]);
    }
    AT_ASSERT_EQ_U64(n.waiters, 0);
    AT_ASSERT_EQ_INT(count_threads(), before);
    at_io_close(io);
    close(fds[1]);
}
