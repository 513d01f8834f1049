/* test_holders.c - unit tests of what the runtime records for a diagnosis
 * (debugger ABI 2): semaphore permit holders and channel sender holders by
 * task (exact rows, the parent rule, truncation, a leak kept after its task
 * exits), a channel's receiver from its creation, the mutex lock site and a
 * holder that no longer exists, notify's last notifier, oneshot's sender
 * task, the pool thread running a blocking job, and the clock pair. */
#define _GNU_SOURCE
#include <semaphore.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "asynctrace.h"
#include "cunit_main.h"
#include "prims_driver.h"

/* The permits (or handles) of task `id` in a holder table, 0 if no row. */
static uint64_t held_by(const at_holder *t, uint64_t id)
{
    for (int i = 0; i < AT_HOLDERS_MAX; i++)
        if (t[i].count && t[i].task_id == id)
            return t[i].count;
    return 0;
}

static int rows(const at_holder *t)
{
    int n = 0;
    for (int i = 0; i < AT_HOLDERS_MAX; i++)
        n += t[i].count != 0;
    return n;
}

static at_notify never; /* notified only at the end of a test */

/* ---- semaphore holders ---- */

typedef struct {
    AT_FRAME;
    at_semaphore *s;
    uint64_t n;
    int keep; /* 1: park holding the permits; 0: exit holding them (leak) */
    at_semaphore_acquire_fut acq;
    at_notify_wait_fut wait;
} permit_task;

AT_ASYNC_FN(permit_run, permit_task)
{
    AT_BEGIN(permit_task);
    AT_AWAIT(at_semaphore_acquire(&self->acq, self->s, self->n));
    if (self->keep) {
        AT_AWAIT(at_notify_wait(&self->wait, &never));
        at_semaphore_release(self->s, self->n);
    }
    AT_END;
}
static at_frame *permit_new(permit_task *p, at_semaphore *s, uint64_t n, int keep)
{
    p->s = s;
    p->n = n;
    p->keep = keep;
    return AT_START(p, permit_run);
}

typedef struct {
    at_semaphore s;
    at_join_handle h[12];
} sem_ctx;

static int sem_steps(driver *d)
{
    sem_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        at_semaphore_init(&c->s, 3);
        c->h[0] = AT_SPAWN(NULL, "leaker", permit_task, permit_new, &c->s, 2, 0);
        c->h[1] = AT_SPAWN(NULL, "keeper", permit_task, permit_new, &c->s, 1, 1);
        c->h[2] = AT_SPAWN(NULL, "waiter", permit_task, permit_new, &c->s, 1, 1);
        return SETTLE;
    case 1: {
        uint64_t leaker = c->h[0].task->id, keeper = c->h[1].task->id;
        /* The leaker exited holding 2: still listed. */
        AT_ASSERT_EQ_INT(task_state(c->h[0]), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_U64(c->s.max_permits, 3);
        AT_ASSERT_EQ_U64(c->s.permits, 0);
        AT_ASSERT_EQ_U64(c->s.waiters, 1);
        AT_ASSERT_EQ_U64(held_by(c->s.holders, leaker), 2);
        AT_ASSERT_EQ_U64(held_by(c->s.holders, keeper), 1);
        AT_ASSERT_EQ_INT(rows(c->s.holders), 2);
        AT_ASSERT_EQ_U64(c->s.untracked, 0);
        at_notify_one(&never); /* the keeper releases: the waiter gets it */
        return SETTLE;
    }
    case 2: {
        uint64_t keeper = c->h[1].task->id, waiter = c->h[2].task->id;
        AT_ASSERT_EQ_U64(held_by(c->s.holders, keeper), 0);
        AT_ASSERT_EQ_U64(held_by(c->s.holders, waiter), 1);
        AT_ASSERT_EQ_U64(held_by(c->s.holders, c->h[0].task->id), 2);
        AT_ASSERT_EQ_INT(rows(c->s.holders), 2);
        /* The driver (parent of all) releases the leaked permits: taken
         * from the rows in order, as nobody closer holds any. */
        at_semaphore_release(&c->s, 2);
        AT_ASSERT_EQ_U64(held_by(c->s.holders, c->h[0].task->id), 0);
        AT_ASSERT_EQ_INT(rows(c->s.holders), 1);
        at_notify_one(&never);
        for (int i = 0; i < 3; i++)
            at_join_handle_release(&c->h[i]);
        return SETTLE;
    }
    case 3:
        AT_ASSERT_EQ_INT(rows(c->s.holders), 0);
        AT_ASSERT_EQ_U64(c->s.permits, 3);
        return 0;
    }
    return 0;
}

AT_TEST(semaphore_holders_by_task_and_leak_after_exit)
{
    sem_ctx c;
    at_notify_init(&never);
    AT_ASSERT_EQ_INT(run_driver(sem_steps, &c), 4);
}

static int sem_trunc_steps(driver *d)
{
    sem_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        at_semaphore_init(&c->s, 20);
        for (int i = 0; i < 10; i++)
            c->h[i] = AT_SPAWN(NULL, "keeper", permit_task, permit_new, &c->s, 1, 1);
        return SETTLE;
    case 1:
        /* 8 rows, the 2 last acquirers untracked. */
        AT_ASSERT_EQ_INT(rows(c->s.holders), AT_HOLDERS_MAX);
        AT_ASSERT_EQ_U64(c->s.untracked, 2);
        for (int i = 0; i < AT_HOLDERS_MAX; i++)
            AT_ASSERT_EQ_U64(held_by(c->s.holders, c->h[i].task->id), 1);
        AT_ASSERT_EQ_U64(held_by(c->s.holders, c->h[9].task->id), 0);
        at_notify_all(&never);
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(rows(c->s.holders), 0);
        AT_ASSERT_EQ_U64(c->s.untracked, 0);
        AT_ASSERT_EQ_U64(c->s.permits, 20);
        for (int i = 0; i < 10; i++)
            at_join_handle_release(&c->h[i]);
        return 0;
    }
    return 0;
}

AT_TEST(semaphore_holders_truncated)
{
    sem_ctx c;
    at_notify_init(&never);
    AT_ASSERT_EQ_INT(run_driver(sem_trunc_steps, &c), 3);
}

/* A task acquires, then a task it spawned releases: the parent's row. */
typedef struct {
    AT_FRAME;
    at_semaphore *s;
} releaser_task;

AT_ASYNC_FN(releaser_run, releaser_task)
{
    AT_BEGIN(releaser_task);
    at_semaphore_release(self->s, 1);
    AT_END;
}
static at_frame *releaser_new(releaser_task *r, at_semaphore *s)
{
    r->s = s;
    return AT_START(r, releaser_run);
}

static int sem_parent_steps(driver *d)
{
    sem_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        at_semaphore_init(&c->s, 2);
        AT_ASSERT_EQ_INT(at_semaphore_try_acquire(&c->s, 1), 0);
        AT_ASSERT_EQ_U64(held_by(c->s.holders, d->id), 1);
        c->h[0] = AT_SPAWN(NULL, "other", permit_task, permit_new, &c->s, 1, 1);
        c->h[1] = AT_SPAWN(NULL, "releaser", releaser_task, releaser_new, &c->s);
        return SETTLE;
    case 1:
        /* The releaser's parent (the driver) held one: that row went. */
        AT_ASSERT_EQ_U64(held_by(c->s.holders, d->id), 0);
        AT_ASSERT_EQ_U64(held_by(c->s.holders, c->h[0].task->id), 1);
        AT_ASSERT_EQ_INT(rows(c->s.holders), 1);
        at_notify_one(&never);
        return SETTLE;
    case 2:
        at_join_handle_release(&c->h[0]);
        at_join_handle_release(&c->h[1]);
        return 0;
    }
    return 0;
}

AT_TEST(semaphore_release_by_child_takes_parent_row)
{
    sem_ctx c;
    at_notify_init(&never);
    AT_ASSERT_EQ_INT(run_driver(sem_parent_steps, &c), 3);
}

/* ---- channel senders ---- */

typedef struct {
    AT_FRAME;
    at_chan *ch;
    int drop, msg;
    at_chan_send_fut send;
} tx_task;

AT_ASYNC_FN(tx_run, tx_task)
{
    AT_BEGIN(tx_task);
    AT_AWAIT(at_chan_send(&self->send, self->ch, &self->msg));
    if (self->drop)
        at_chan_sender_drop(self->ch);
    AT_END;
}
static at_frame *tx_new(tx_task *t, at_chan *ch, int drop)
{
    t->ch = ch;
    t->drop = drop;
    t->msg = 5;
    return AT_START(t, tx_run);
}

typedef struct {
    AT_FRAME;
    at_chan *ch;
    int got, msg;
    at_chan_recv_fut recv;
} rx_task;

AT_ASYNC_FN(rx_run, rx_task)
{
    AT_BEGIN(rx_task);
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->recv, self->ch, &self->msg));
        if (self->recv.status)
            break;
        self->got++;
    }
    AT_END;
}
static at_frame *rx_new(rx_task *r, at_chan *ch)
{
    r->ch = ch;
    r->got = 0;
    return AT_START(r, rx_run);
}

typedef struct {
    at_chan *ch;
    at_join_handle h[12];
} chan_ctx;

static int chan_steps(driver *d)
{
    chan_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        c->ch = at_chan_new_bounded(sizeof(int), 4, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c->ch);
        /* The creator holds the receiver and the first sender. */
        AT_ASSERT_EQ_U64(c->ch->rx_task_id, d->id);
        AT_ASSERT_EQ_U64(held_by(c->ch->tx_holders, d->id), 1);
        at_chan_sender_clone(c->ch);
        at_chan_sender_clone(c->ch);
        AT_ASSERT_EQ_U64(held_by(c->ch->tx_holders, d->id), 3);
        c->h[0] = AT_SPAWN(NULL, "tx_a", tx_task, tx_new, c->ch, 1);
        c->h[1] = AT_SPAWN(NULL, "tx_b", tx_task, tx_new, c->ch, 0);
        c->h[2] = AT_SPAWN(NULL, "drain", rx_task, rx_new, c->ch);
        at_chan_sender_drop(c->ch);
        AT_ASSERT_EQ_U64(held_by(c->ch->tx_holders, d->id), 2);
        return SETTLE;
    case 1: {
        /* tx_a sent (a handle moved to it from the driver) and dropped it;
         * tx_b sent and exited holding its handle: the only one left. */
        uint64_t b = c->h[1].task->id;
        AT_ASSERT_EQ_INT(task_state(c->h[1]), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_U64(c->ch->senders, 1);
        AT_ASSERT_EQ_INT(rows(c->ch->tx_holders), 1);
        AT_ASSERT_EQ_U64(held_by(c->ch->tx_holders, b), 1);
        AT_ASSERT_EQ_U64(c->ch->tx_untracked, 0);
        AT_ASSERT_EQ_U64(c->ch->rx_task_id, c->h[2].task->id);
        AT_ASSERT_EQ_U64(c->ch->recv_waiters, 1);
        at_chan_sender_drop(c->ch); /* on tx_b's behalf: the drain ends */
        AT_ASSERT_EQ_INT(rows(c->ch->tx_holders), 0);
        return SETTLE;
    }
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->h[2]), AT_TASK_COMPLETE);
        for (int i = 0; i < 3; i++)
            at_join_handle_release(&c->h[i]);
        at_chan_receiver_drop(c->ch);
        return 0;
    }
    return 0;
}

AT_TEST(channel_sender_holders_and_receiver_from_creation)
{
    chan_ctx c;
    AT_ASSERT_EQ_INT(run_driver(chan_steps, &c), 3);
}

/* Ten tasks each clone a sender and park: 8 rows, 2 untracked. */
typedef struct {
    AT_FRAME;
    at_chan *ch;
    at_notify_wait_fut wait;
} cloner_task;

AT_ASYNC_FN(cloner_run, cloner_task)
{
    AT_BEGIN(cloner_task);
    at_chan_sender_clone(self->ch);
    AT_AWAIT(at_notify_wait(&self->wait, &never));
    at_chan_sender_drop(self->ch);
    AT_END;
}
static at_frame *cloner_new(cloner_task *t, at_chan *ch)
{
    t->ch = ch;
    return AT_START(t, cloner_run);
}

static int chan_trunc_steps(driver *d)
{
    chan_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        c->ch = at_chan_new_unbounded(sizeof(int), NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c->ch);
        for (int i = 0; i < 10; i++)
            c->h[i] = AT_SPAWN(NULL, "cloner", cloner_task, cloner_new, c->ch);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_U64(c->ch->senders, 11);
        AT_ASSERT_EQ_INT(rows(c->ch->tx_holders), AT_HOLDERS_MAX);
        AT_ASSERT_EQ_U64(held_by(c->ch->tx_holders, d->id), 1);
        AT_ASSERT_EQ_U64(c->ch->tx_untracked, 3);
        at_notify_all(&never);
        return SETTLE;
    case 2:
        /* The 7 cloners with rows took their own; the first without one
         * took its parent's (the driver's) row, the last two the
         * untracked ones: the driver's own handle now counts there. */
        AT_ASSERT_EQ_U64(c->ch->senders, 1);
        AT_ASSERT_EQ_INT(rows(c->ch->tx_holders), 0);
        AT_ASSERT_EQ_U64(c->ch->tx_untracked, 1);
        for (int i = 0; i < 10; i++)
            at_join_handle_release(&c->h[i]);
        at_chan_sender_drop(c->ch);
        at_chan_receiver_drop(c->ch);
        return 0;
    }
    return 0;
}

AT_TEST(channel_sender_holders_truncated)
{
    chan_ctx c;
    at_notify_init(&never);
    AT_ASSERT_EQ_INT(run_driver(chan_trunc_steps, &c), 3);
}

/* ---- mutex lock site, a holder that no longer exists ---- */

static at_mutex mtx;
static uint32_t lock_line_a, lock_line_b;

typedef struct {
    AT_FRAME;
    int unlock;
    at_mutex_lock_fut lock;
} lock_task;

AT_ASYNC_FN(lock_keep, lock_task)
{
    AT_BEGIN(lock_task);
    lock_line_a = __LINE__ + 1;
    AT_AWAIT(at_mutex_lock(&self->lock, &mtx));
    AT_END; /* exits holding the lock */
}

AT_ASYNC_FN(lock_wait, lock_task)
{
    AT_BEGIN(lock_task);
    lock_line_b = __LINE__ + 1;
    AT_AWAIT(at_mutex_lock(&self->lock, &mtx));
    at_mutex_unlock(&mtx);
    AT_END;
}
static at_frame *lock_keep_new(lock_task *t) { return AT_START(t, lock_keep); }
static at_frame *lock_wait_new(lock_task *t) { return AT_START(t, lock_wait); }

typedef struct {
    at_join_handle keeper, waiter;
    uint64_t keeper_id;
} mutex_ctx;

static int mutex_steps(driver *d)
{
    mutex_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        at_mutex_init(&mtx);
        c->keeper = AT_SPAWN(NULL, "keeper", lock_task, lock_keep_new);
        c->keeper_id = c->keeper.task->id;
        c->waiter = AT_SPAWN(NULL, "waiter", lock_task, lock_wait_new);
        return SETTLE;
    case 1: {
        AT_ASSERT_EQ_U64(mtx.owner_id, c->keeper_id);
        CU_ASSERT_PTR_EQUAL(mtx.lock_site, &AT_SITE_OF(lock_keep));
        AT_ASSERT_EQ_U64(mtx.lock_line, lock_line_a);
        /* The keeper finished and is released: its record is freed, the
         * mutex still names it, and a snapshot has no such task. */
        at_join_handle_release(&c->keeper);
        return SETTLE;
    }
    case 2: {
        at_dump *snap = at_snapshot_take();
        CU_ASSERT_PTR_NOT_NULL_FATAL(snap);
        CU_ASSERT_PTR_NULL(at_dump_find_task(snap, c->keeper_id));
        const at_dump_task *w = at_dump_find_task(snap, c->waiter.task->id);
        CU_ASSERT_PTR_NOT_NULL_FATAL(w);
        const at_dump_resource *r = w->await->children[0].resource;
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        AT_ASSERT_EQ_U64(r->owner_id, c->keeper_id);
        CU_ASSERT_STRING_EQUAL(r->lock_function, "lock_keep");
        AT_ASSERT_EQ_U64(r->lock_line, lock_line_a);
        at_dump_free(snap);
        /* Hand-off: the waiter's own await becomes the lock site. */
        AT_ASSERT_EQ_INT(at_mutex_unlock(&mtx), 0);
        AT_ASSERT_EQ_U64(mtx.owner_id, c->waiter.task->id);
        CU_ASSERT_PTR_EQUAL(mtx.lock_site, &AT_SITE_OF(lock_wait));
        AT_ASSERT_EQ_U64(mtx.lock_line, lock_line_b);
        return SETTLE;
    }
    case 3:
        AT_ASSERT_EQ_U64(mtx.owner_id, 0);
        CU_ASSERT_PTR_NULL(mtx.lock_site);
        AT_ASSERT_EQ_U64(mtx.lock_line, 0);
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&mtx), 0);
        CU_ASSERT_PTR_NULL(mtx.lock_site); /* no await: unknown */
        AT_ASSERT_EQ_U64(mtx.owner_id, d->id);
        at_mutex_unlock(&mtx);
        at_join_handle_release(&c->waiter);
        return 0;
    }
    return 0;
}

AT_TEST(mutex_lock_site_and_holder_gone)
{
    mutex_ctx c;
    AT_ASSERT_EQ_INT(run_driver(mutex_steps, &c), 4);
}

/* ---- notify, oneshot ---- */

typedef struct {
    AT_FRAME;
    at_notify *n;
    int count;
} notifier_task;

AT_ASYNC_FN(notifier_run, notifier_task)
{
    AT_BEGIN(notifier_task);
    for (int i = 0; i < self->count; i++)
        at_notify_one(self->n);
    AT_END;
}
static at_frame *notifier_new(notifier_task *t, at_notify *n, int count)
{
    t->n = n;
    t->count = count;
    return AT_START(t, notifier_run);
}

typedef struct {
    at_notify n;
    at_oneshot *o;
    at_join_handle h;
} peer_ctx;

static int peer_steps(driver *d)
{
    peer_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        at_notify_init(&c->n);
        AT_ASSERT_EQ_U64(c->n.last_notifier, 0);
        AT_ASSERT_EQ_U64(c->n.notified, 0);
        at_notify_all(&c->n);
        AT_ASSERT_EQ_U64(c->n.last_notifier, d->id);
        AT_ASSERT_EQ_U64(c->n.notified, 1);
        c->h = AT_SPAWN(NULL, "notifier", notifier_task, notifier_new, &c->n, 2);
        c->o = at_oneshot_new(sizeof(int));
        CU_ASSERT_PTR_NOT_NULL_FATAL(c->o);
        AT_ASSERT_EQ_U64(c->o->tx_task_id, d->id);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_U64(c->n.last_notifier, c->h.task->id);
        AT_ASSERT_EQ_U64(c->n.notified, 3);
        at_notify_one(&c->n);
        AT_ASSERT_EQ_U64(c->n.last_notifier, d->id);
        at_join_handle_release(&c->h);
        at_oneshot_sender_drop(c->o);
        at_oneshot_receiver_drop(c->o);
        return 0;
    }
    return 0;
}

AT_TEST(notify_last_notifier_and_oneshot_sender_task)
{
    peer_ctx c;
    AT_ASSERT_EQ_INT(run_driver(peer_steps, &c), 2);
    at_notify_one(&c.n); /* outside any task */
    AT_ASSERT_EQ_U64(c.n.last_notifier, 0);
    AT_ASSERT_EQ_U64(c.n.notified, 5);
}

/* ---- blocking job and its pool thread ---- */

static sem_t job_started, job_release;
static int job_tid;

static void *job_fn(void *arg)
{
    (void)arg;
    job_tid = (int)syscall(SYS_gettid);
    sem_post(&job_started);
    sem_wait(&job_release);
    return (void *)(uintptr_t)7;
}

typedef struct {
    AT_FRAME;
    at_blocking_fut job;
} job_task;

AT_ASYNC_FN(job_run, job_task)
{
    AT_BEGIN(job_task);
    AT_AWAIT(at_spawn_blocking(&self->job, job_fn, NULL));
    AT_END;
}

static void *job_runtime_main(void *arg)
{
    at_runtime *rt = arg;
    job_task t;
    at_block_on(rt, AT_START(&t, job_run), "job");
    return (void *)(uintptr_t)(t.job.status == 0 && t.job.result == (void *)(uintptr_t)7);
}

/* The blocking wait of the task named "job" in a snapshot. */
static const at_dump_resource *job_resource(const at_dump *d)
{
    for (size_t r = 0; r < d->nruntimes; r++)
        for (size_t i = 0; i < d->runtimes[r].ntasks; i++) {
            const at_dump_task *t = &d->runtimes[r].tasks[i];
            if (!strcmp(t->name, "job") && t->await && t->await->nchildren)
                return t->await->children[0].resource;
        }
    return NULL;
}

AT_TEST(blocking_job_names_its_pool_thread)
{
    sem_init(&job_started, 0, 0);
    sem_init(&job_release, 0, 0);
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    pthread_t th;
    pthread_create(&th, NULL, job_runtime_main, rt);
    sem_wait(&job_started);
    /* The job may start before its task's poll has recorded the job in
     * the wait (that poll returns right after the hand-over): look again
     * until it has. */
    at_dump *d = NULL;
    const at_dump_resource *r = NULL;
    for (int i = 0; i < 500; i++) {
        at_dump_free(d);
        d = at_snapshot_take();
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        r = job_resource(d);
        if (r && r->detail[0])
            break;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    AT_ASSERT_EQ_INT(r->kind, AT_RES_BLOCKING);
    AT_ASSERT_EQ_U64(r->detail[0], 1);
    AT_ASSERT_EQ_INT(r->thread, job_tid);
    CU_ASSERT_PTR_NULL(r->error);
    int blocking_role = 0;
    for (size_t i = 0; i < d->nthreads; i++)
        if (d->threads[i].tid == job_tid)
            blocking_role = d->threads[i].role == AT_ROLE_BLOCKING;
    AT_ASSERT_EQ_INT(blocking_role, 1);
    at_dump_free(d);
    sem_post(&job_release);
    void *ok = NULL;
    pthread_join(th, &ok);
    AT_ASSERT_EQ_INT((int)(uintptr_t)ok, 1);
    at_runtime_free(rt);
}

/* ---- the clock pair ---- */

AT_TEST(clock_pair_recorded_at_runtime_creation)
{
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    struct timespec m, r;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r);
    uint64_t mono = asynctrace_debug.clock_mono_ns, real = asynctrace_debug.clock_real_ns;
    CU_ASSERT(mono > 0);
    int64_t offset_now = ((int64_t)r.tv_sec - (int64_t)m.tv_sec) * 1000000000ll +
                         (r.tv_nsec - m.tv_nsec);
    int64_t offset_pair = (int64_t)(real - mono);
    int64_t skew = offset_now - offset_pair;
    /* The same offset between the clocks, to within a few milliseconds. */
    CU_ASSERT(skew > -5000000 && skew < 5000000);
    at_runtime_free(rt);
}
