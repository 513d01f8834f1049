/* test_sync.c - unit tests of the async mutex, semaphore and notify:
 * ordering, FIFO fairness and hand-off, cancellation (a waiter's queue entry
 * and any lock/permits granted to it are passed on), try_* variants, bad
 * input, the records the debugger reads, and the await chain a snapshot
 * shows for a task suspended in a mutex lock three async functions deep. */
#include "asynctrace.h"
#include "cunit_main.h"
#include "prims_driver.h"

/* ---- Shared test tasks ---- */

typedef struct order_log {
    int v[64];
    int n;
} order_log;

static void log_add(order_log *l, int id)
{
    if (l->n < 64)
        l->v[l->n++] = id;
}

/* Lock, log `tag`, hold the lock for `hold` yields, unlock. */
typedef struct locker {
    AT_FRAME;
    at_mutex *m;
    order_log *log;
    int tag, hold, i;
    union {
        at_mutex_lock_fut lock;
        at_yield_fut y;
    } aw;
} locker;

AT_ASYNC_FN(locker_run, locker)
{
    AT_BEGIN(locker);
    AT_AWAIT(at_mutex_lock(&self->aw.lock, self->m));
    log_add(self->log, self->tag);
    for (self->i = 0; self->i < self->hold; self->i++)
        AT_AWAIT(at_yield(&self->aw.y));
    AT_ASSERT_EQ_INT(at_mutex_unlock(self->m), 0);
    AT_END;
}

static at_frame *locker_new(locker *s, at_mutex *m, order_log *log, int tag,
                            int hold)
{
    s->m = m;
    s->log = log;
    s->tag = tag;
    s->hold = hold;
    return AT_START(s, locker_run);
}

/* Acquire n permits, log `tag`, hold them for `hold` yields, release. */
typedef struct acquirer {
    AT_FRAME;
    at_semaphore *s;
    order_log *log;
    uint64_t n;
    int tag, hold, i;
    union {
        at_semaphore_acquire_fut acq;
        at_yield_fut y;
    } aw;
} acquirer;

AT_ASYNC_FN(acquirer_run, acquirer)
{
    AT_BEGIN(acquirer);
    AT_AWAIT(at_semaphore_acquire(&self->aw.acq, self->s, self->n));
    log_add(self->log, self->tag);
    for (self->i = 0; self->i < self->hold; self->i++)
        AT_AWAIT(at_yield(&self->aw.y));
    at_semaphore_release(self->s, self->n);
    AT_END;
}

static at_frame *acquirer_new(acquirer *s, at_semaphore *sem, order_log *log,
                              uint64_t n, int tag, int hold)
{
    s->s = sem;
    s->log = log;
    s->n = n;
    s->tag = tag;
    s->hold = hold;
    return AT_START(s, acquirer_run);
}

/* Wait for a notify, then log `tag`. */
typedef struct notified {
    AT_FRAME;
    at_notify *n;
    order_log *log;
    int tag;
    at_notify_wait_fut wait;
} notified;

AT_ASYNC_FN(notified_run, notified)
{
    AT_BEGIN(notified);
    AT_AWAIT(at_notify_wait(&self->wait, self->n));
    log_add(self->log, self->tag);
    AT_END;
}

static at_frame *notified_new(notified *s, at_notify *n, order_log *log, int tag)
{
    s->n = n;
    s->log = log;
    s->tag = tag;
    return AT_START(s, notified_run);
}

static void assert_log(const order_log *l, const int *want, int n)
{
    AT_ASSERT_EQ_INT(l->n, n);
    for (int i = 0; i < n; i++)
        AT_ASSERT_EQ_INT(l->v[i], want[i]);
}

/* Check a leaf's debugger-visible records. */
static void assert_leaf(const at_leaf *l, const char *function, uint32_t kind,
                        const void *object)
{
    AT_ASSERT_EQ_STR(l->frame.site->function, function);
    AT_ASSERT_EQ_INT(l->frame.site->kind, AT_KIND_LEAF);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l->frame.site->poll);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l->frame.site->drop);
    AT_ASSERT_EQ_INT(l->wait.kind, kind);
    CU_ASSERT_PTR_EQUAL_FATAL(l->wait.object, object);
    CU_ASSERT_FATAL(l->wait.since_ns > 0 && l->wait.since_ns <= at_now_ns());
}

/* ====================================================================== */
/* Mutex                                                                  */
/* ====================================================================== */

AT_TEST(mutex_try_lock_unlock_and_bad_input)
{
    at_mutex m;
    at_mutex_init(&m);
    AT_ASSERT_EQ_U64(m.magic, AT_MUTEX_MAGIC);
    AT_ASSERT_EQ_INT(at_mutex_unlock(&m), AT_EINVAL); /* not locked */
    AT_ASSERT_EQ_INT(at_mutex_try_lock(&m), 0);
    AT_ASSERT_EQ_INT(m.locked, 1);
    AT_ASSERT_EQ_U64(m.owner_id, 0); /* outside any task */
    CU_ASSERT_PTR_NULL(m.owner);
    AT_ASSERT_EQ_INT(at_mutex_try_lock(&m), AT_EBUSY);
    AT_ASSERT_EQ_INT(at_mutex_destroy(&m), AT_EBUSY);
    AT_ASSERT_EQ_U64(m.magic, AT_MUTEX_MAGIC);
    AT_ASSERT_EQ_INT(at_mutex_unlock(&m), 0);
    AT_ASSERT_EQ_INT(m.locked, 0);
    AT_ASSERT_EQ_INT(at_mutex_unlock(&m), AT_EINVAL); /* twice */
    AT_ASSERT_EQ_INT(at_mutex_destroy(&m), 0);
    AT_ASSERT_EQ_U64(m.magic, AT_DEAD_MAGIC);
}

/* Three waiters queue behind the driver; unlock hands the lock to each in
 * turn, and nobody (not even try_lock) overtakes a queued waiter. */
typedef struct fifo_ctx {
    at_mutex m;
    order_log log;
    at_join_handle w[3];
} fifo_ctx;

static int mutex_fifo_steps(driver *d)
{
    fifo_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->m), 0);
        AT_ASSERT_EQ_U64(c->m.owner_id, d->id);
        CU_ASSERT_PTR_EQUAL_FATAL(c->m.owner, d->task);
        for (int i = 0; i < 3; i++) {
            c->w[i] = AT_SPAWN(NULL, "locker", locker, locker_new, &c->m,
                               &c->log, i + 1, 2);
            CU_ASSERT_PTR_NOT_NULL_FATAL(c->w[i].task);
        }
        return SETTLE;
    case 1: {
        AT_ASSERT_EQ_INT(c->m.waiters, 3);
        AT_ASSERT_EQ_INT(c->log.n, 0);
        /* The queue holds the waiters in arrival order, with their ids. */
        at_waiter *q = c->m.head;
        for (int i = 0; i < 3; i++, q = q->next) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(q);
            AT_ASSERT_EQ_U64(q->waker.task->id, at_join_handle_id(c->w[i]));
            AT_ASSERT_EQ_INT(q->state, 0);
        }
        CU_ASSERT_PTR_NULL_FATAL(q);
        for (int i = 0; i < 3; i++) {
            locker *s = at_join_handle_state(c->w[i]);
            assert_leaf(&s->aw.lock.leaf, "at_mutex_lock", AT_RES_MUTEX, &c->m);
            AT_ASSERT_EQ_INT(task_state(c->w[i]), AT_TASK_IDLE);
        }
        AT_ASSERT_EQ_INT(at_mutex_unlock(&c->m), 0);
        /* Handed off at once: the first waiter owns it before it runs. */
        AT_ASSERT_EQ_INT(c->m.locked, 1);
        AT_ASSERT_EQ_U64(c->m.owner_id, at_join_handle_id(c->w[0]));
        CU_ASSERT_PTR_EQUAL_FATAL(c->m.owner, c->w[0].task);
        AT_ASSERT_EQ_INT(c->m.waiters, 2);
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->m), AT_EBUSY);
        return 1;
    }
    case 2:
        /* The first waiter got it and holds it across its yields. */
        AT_ASSERT_EQ_INT(c->log.n, 1);
        AT_ASSERT_EQ_U64(c->m.owner_id, at_join_handle_id(c->w[0]));
        return SETTLE * 2;
    case 3: {
        static const int want[] = {1, 2, 3};
        assert_log(&c->log, want, 3);
        AT_ASSERT_EQ_INT(c->m.locked, 0);
        AT_ASSERT_EQ_U64(c->m.owner_id, 0);
        CU_ASSERT_PTR_NULL(c->m.owner);
        AT_ASSERT_EQ_INT(c->m.waiters, 0);
        CU_ASSERT_PTR_NULL(c->m.head);
        for (int i = 0; i < 3; i++) {
            AT_ASSERT_EQ_INT(task_state(c->w[i]), AT_TASK_COMPLETE);
            at_join_handle_release(&c->w[i]);
        }
        AT_ASSERT_EQ_INT(at_mutex_destroy(&c->m), 0);
        return 0;
    }
    }
    return 0;
}

AT_TEST(mutex_fifo_hand_off)
{
    fifo_ctx c = {0};
    at_mutex_init(&c.m);
    AT_ASSERT_EQ_INT(run_driver(mutex_fifo_steps, &c), 4);
}

/* A queued waiter is aborted: its entry leaves the queue, the next waiter
 * gets the lock; then a waiter aborted after the lock was handed to it
 * (granted, never polled) passes the lock on. */
typedef struct cancel_ctx {
    at_mutex m;
    order_log log;
    at_join_handle w[3];
} cancel_ctx;

static int mutex_cancel_steps(driver *d)
{
    cancel_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->m), 0);
        for (int i = 0; i < 3; i++)
            c->w[i] = AT_SPAWN(NULL, "locker", locker, locker_new, &c->m,
                               &c->log, i + 1, 0);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_INT(c->m.waiters, 3);
        at_task_abort(c->w[1]); /* queued in the middle */
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w[1]), AT_TASK_CANCELLED);
        AT_ASSERT_EQ_INT(c->m.waiters, 2);
        AT_ASSERT_EQ_U64(c->m.head->waker.task->id, at_join_handle_id(c->w[0]));
        AT_ASSERT_EQ_U64(c->m.head->next->waker.task->id, at_join_handle_id(c->w[2]));
        CU_ASSERT_PTR_EQUAL_FATAL(c->m.tail, c->m.head->next);
        /* Hand the lock to w0, then abort it before it runs. */
        AT_ASSERT_EQ_INT(at_mutex_unlock(&c->m), 0);
        AT_ASSERT_EQ_U64(c->m.owner_id, at_join_handle_id(c->w[0]));
        at_task_abort(c->w[0]);
        return 1;
    case 3:
        /* w0's drop hook passed the lock on to w2. */
        AT_ASSERT_EQ_INT(task_state(c->w[0]), AT_TASK_CANCELLED);
        AT_ASSERT_EQ_U64(c->m.owner_id, at_join_handle_id(c->w[2]));
        AT_ASSERT_EQ_INT(c->m.waiters, 0);
        return SETTLE;
    case 4: {
        static const int want[] = {3};
        assert_log(&c->log, want, 1);
        AT_ASSERT_EQ_INT(task_state(c->w[2]), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_INT(c->m.locked, 0);
        AT_ASSERT_EQ_U64(c->m.owner_id, 0);
        for (int i = 0; i < 3; i++)
            at_join_handle_release(&c->w[i]);
        return 0;
    }
    }
    return 0;
}

AT_TEST(mutex_cancel_queued_and_granted)
{
    cancel_ctx c = {0};
    at_mutex_init(&c.m);
    AT_ASSERT_EQ_INT(run_driver(mutex_cancel_steps, &c), 5);
    AT_ASSERT_EQ_INT(at_mutex_destroy(&c.m), 0);
}

/* The last waiter, granted and aborted: the mutex ends unlocked. */
static int mutex_cancel_last_steps(driver *d)
{
    cancel_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->m), 0);
        c->w[0] = AT_SPAWN(NULL, "locker", locker, locker_new, &c->m, &c->log,
                           1, 0);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_INT(c->m.waiters, 1);
        AT_ASSERT_EQ_INT(at_mutex_unlock(&c->m), 0);
        at_task_abort(c->w[0]);
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w[0]), AT_TASK_CANCELLED);
        AT_ASSERT_EQ_INT(c->log.n, 0);
        AT_ASSERT_EQ_INT(c->m.locked, 0);
        AT_ASSERT_EQ_U64(c->m.owner_id, 0);
        CU_ASSERT_PTR_NULL(c->m.head);
        at_join_handle_release(&c->w[0]);
        return 0;
    }
    return 0;
}

AT_TEST(mutex_cancel_granted_last_waiter)
{
    cancel_ctx c = {0};
    at_mutex_init(&c.m);
    AT_ASSERT_EQ_INT(run_driver(mutex_cancel_last_steps, &c), 3);
}

/* Shutting a runtime down with a task queued on a mutex runs its drop hook:
 * the queue is empty afterwards and the waker's reference is released (the
 * sanitizer build checks the task is freed). */
static int mutex_shutdown_steps(driver *d)
{
    cancel_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->m), 0);
        c->w[0] = AT_SPAWN(NULL, "locker", locker, locker_new, &c->m, &c->log,
                           1, 0);
        at_join_handle_release(&c->w[0]);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_INT(c->m.waiters, 1);
        return 0;
    }
    return 0;
}

AT_TEST(mutex_runtime_shutdown_cancels_waiter)
{
    cancel_ctx c = {0};
    at_mutex_init(&c.m);
    AT_ASSERT_EQ_INT(run_driver(mutex_shutdown_steps, &c), 2);
    AT_ASSERT_EQ_INT(c.m.waiters, 0);
    CU_ASSERT_PTR_NULL(c.m.head);
    AT_ASSERT_EQ_INT(c.m.locked, 1); /* still the driver's */
    AT_ASSERT_EQ_INT(at_mutex_unlock(&c.m), 0);
    AT_ASSERT_EQ_INT(at_mutex_destroy(&c.m), 0);
}

/* ====================================================================== */
/* The await chain of a task suspended in a mutex lock, three async       */
/* functions deep, as a snapshot shows it                                 */
/* ====================================================================== */

static uint32_t deep_f1_line, deep_f1_line2, deep_f2_line, deep_f3_line;

typedef struct deep3 {
    AT_FRAME;
    at_mutex *m;
    at_mutex_lock_fut lock;
} deep3;

AT_ASYNC_FN(deep_f3, deep3)
{
    AT_BEGIN(deep3);
    deep_f3_line = __LINE__; AT_AWAIT(at_mutex_lock(&self->lock, self->m));
    AT_END;
}

static at_frame *deep_f3_new(deep3 *s, at_mutex *m)
{
    s->m = m;
    return AT_START(s, deep_f3);
}

typedef struct deep2 {
    AT_FRAME;
    at_mutex *m;
    deep3 f3;
} deep2;

AT_ASYNC_FN(deep_f2, deep2)
{
    AT_BEGIN(deep2);
    deep_f2_line = __LINE__; AT_AWAIT(deep_f3_new(&self->f3, self->m));
    AT_END;
}

static at_frame *deep_f2_new(deep2 *s, at_mutex *m)
{
    s->m = m;
    return AT_START(s, deep_f2);
}

typedef struct deep1 {
    AT_FRAME;
    at_mutex *m;
    at_notify *n;
    union {
        deep2 f2;
        at_notify_wait_fut wait;
    } aw;
} deep1;

/* Lock through f2 -> f3, then wait for a notify holding the lock. */
AT_ASYNC_FN(deep_f1, deep1)
{
    AT_BEGIN(deep1);
    deep_f1_line = __LINE__; AT_AWAIT(deep_f2_new(&self->aw.f2, self->m));
    deep_f1_line2 = __LINE__; AT_AWAIT(at_notify_wait(&self->aw.wait, self->n));
    AT_ASSERT_EQ_INT(at_mutex_unlock(self->m), 0);
    AT_END;
}

static at_frame *deep_f1_new(deep1 *s, at_mutex *m, at_notify *n)
{
    s->m = m;
    s->n = n;
    return AT_START(s, deep_f1);
}

typedef struct deep_ctx {
    at_mutex m;
    at_notify n;
    at_join_handle w;
} deep_ctx;

/* Check one await frame of a snapshot. */
static const at_dump_frame *expect_frame(const at_dump_frame *f,
                                         const char *function, uint32_t kind,
                                         uint32_t line, size_t nchildren)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NULL_FATAL(f->error);
    AT_ASSERT_EQ_STR(f->function, function);
    AT_ASSERT_EQ_INT(f->kind, kind);
    if (line)
        AT_ASSERT_EQ_INT(f->line, line);
    AT_ASSERT_EQ_STR(f->file, __FILE__);
    AT_ASSERT_EQ_INT(f->nchildren, nchildren);
    return nchildren ? &f->children[0] : NULL;
}

static int deep_steps(driver *d)
{
    deep_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->m), 0);
        c->w = AT_SPAWN(NULL, "deep", deep1, deep_f1_new, &c->m, &c->n);
        return SETTLE;
    case 1: {
        AT_ASSERT_EQ_INT(c->m.waiters, 1);
        at_dump *dump = at_snapshot_take();
        CU_ASSERT_PTR_NOT_NULL_FATAL(dump);
        const at_dump_task *t = at_dump_find_task(dump, at_join_handle_id(c->w));
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_PTR_NULL_FATAL(t->error);
        AT_ASSERT_EQ_INT(t->state, AT_TASK_IDLE);
        AT_ASSERT_EQ_U64(t->parent_id, d->id);
        const at_dump_frame *f = t->await;
        f = expect_frame(f, "deep_f1", AT_KIND_ASYNC, deep_f1_line, 1);
        f = expect_frame(f, "deep_f2", AT_KIND_ASYNC, deep_f2_line, 1);
        f = expect_frame(f, "deep_f3", AT_KIND_ASYNC, deep_f3_line, 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        AT_ASSERT_EQ_STR(f->function, "at_mutex_lock");
        AT_ASSERT_EQ_INT(f->kind, AT_KIND_LEAF);
        AT_ASSERT_EQ_INT(f->nchildren, 0);
        deep1 *s = at_join_handle_state(c->w);
        AT_ASSERT_EQ_U64(f->address, (uintptr_t)&s->aw.f2.f3.lock);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f->resource);
        AT_ASSERT_EQ_INT(f->resource->kind, AT_RES_MUTEX);
        AT_ASSERT_EQ_U64(f->resource->object, (uintptr_t)&c->m);
        AT_ASSERT_EQ_U64(f->resource->owner_id, d->id);
        AT_ASSERT_EQ_INT(f->resource->waiters, 1);
        CU_ASSERT_FATAL(f->resource->since_ns > 0);
        CU_ASSERT_PTR_NULL_FATAL(f->resource->error);
        at_dump_free(dump);
        AT_ASSERT_EQ_INT(at_mutex_unlock(&c->m), 0);
        return SETTLE;
    }
    case 2: {
        /* Granted: the lock chain is gone; f1 now waits on the notify. */
        AT_ASSERT_EQ_U64(c->m.owner_id, at_join_handle_id(c->w));
        at_dump *dump = at_snapshot_take();
        CU_ASSERT_PTR_NOT_NULL_FATAL(dump);
        const at_dump_task *t = at_dump_find_task(dump, at_join_handle_id(c->w));
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        const at_dump_frame *f =
            expect_frame(t->await, "deep_f1", AT_KIND_ASYNC, deep_f1_line2, 1);
        AT_ASSERT_EQ_STR(f->function, "at_notify_wait");
        AT_ASSERT_EQ_INT(f->nchildren, 0);
        AT_ASSERT_EQ_INT(f->resource->kind, AT_RES_NOTIFY);
        AT_ASSERT_EQ_U64(f->resource->object, (uintptr_t)&c->n);
        AT_ASSERT_EQ_INT(f->resource->waiters, 1);
        at_dump_free(dump);
        at_notify_one(&c->n);
        return SETTLE;
    }
    case 3:
        AT_ASSERT_EQ_INT(task_state(c->w), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_INT(c->m.locked, 0);
        at_join_handle_release(&c->w);
        return 0;
    }
    return 0;
}

AT_TEST(mutex_snapshot_shows_await_chain)
{
    deep_ctx c = {0};
    at_mutex_init(&c.m);
    at_notify_init(&c.n);
    AT_ASSERT_EQ_INT(run_driver(deep_steps, &c), 4);
}

/* ====================================================================== */
/* Semaphore                                                              */
/* ====================================================================== */

AT_TEST(semaphore_try_acquire_release)
{
    at_semaphore s;
    at_semaphore_init(&s, 3);
    AT_ASSERT_EQ_U64(s.magic, AT_SEM_MAGIC);
    AT_ASSERT_EQ_U64(s.permits, 3);
    AT_ASSERT_EQ_U64(s.max_permits, 3);
    AT_ASSERT_EQ_INT(at_semaphore_try_acquire(&s, 2), 0);
    AT_ASSERT_EQ_U64(s.permits, 1);
    AT_ASSERT_EQ_INT(at_semaphore_try_acquire(&s, 2), AT_EAGAIN);
    AT_ASSERT_EQ_U64(s.permits, 1);
    AT_ASSERT_EQ_INT(at_semaphore_try_acquire(&s, 0), 0);
    at_semaphore_release(&s, 2);
    AT_ASSERT_EQ_U64(s.permits, 3);
    at_semaphore_release(&s, UINT64_MAX); /* saturates */
    AT_ASSERT_EQ_U64(s.permits, UINT64_MAX);
}

/* FIFO: a large request at the head blocks smaller ones behind it, and
 * try_acquire does not overtake queued requests. */
typedef struct sem_ctx {
    at_semaphore s;
    order_log log;
    at_join_handle w[3];
} sem_ctx;

static int sem_fifo_steps(driver *d)
{
    sem_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        c->w[0] = AT_SPAWN(NULL, "big", acquirer, acquirer_new, &c->s, &c->log,
                           2, 1, SETTLE * 4);
        c->w[1] = AT_SPAWN(NULL, "small", acquirer, acquirer_new, &c->s,
                           &c->log, 1, 2, SETTLE * 4);
        return SETTLE;
    case 1: {
        AT_ASSERT_EQ_INT(c->s.waiters, 2);
        acquirer *big = at_join_handle_state(c->w[0]);
        acquirer *small = at_join_handle_state(c->w[1]);
        assert_leaf(&big->aw.acq.leaf, "at_semaphore_acquire", AT_RES_SEMAPHORE,
                    &c->s);
        AT_ASSERT_EQ_U64(big->aw.acq.leaf.wait.detail[0], 2);
        AT_ASSERT_EQ_U64(small->aw.acq.leaf.wait.detail[0], 1);
        AT_ASSERT_EQ_U64(c->s.head->waker.task->id, at_join_handle_id(c->w[0]));
        AT_ASSERT_EQ_U64(((at_semaphore_acquire_fut *)(void *)((char *)c->s.head -
                          offsetof(at_semaphore_acquire_fut, waiter)))->leaf.wait.detail[0], 2);
        at_semaphore_release(&c->s, 1);
        AT_ASSERT_EQ_U64(c->s.permits, 1); /* the head wants 2 */
        AT_ASSERT_EQ_INT(at_semaphore_try_acquire(&c->s, 1), AT_EAGAIN);
        return SETTLE;
    }
    case 2:
        AT_ASSERT_EQ_INT(c->log.n, 0);
        at_semaphore_release(&c->s, 1);
        AT_ASSERT_EQ_U64(c->s.permits, 0); /* granted to the head */
        AT_ASSERT_EQ_INT(c->s.waiters, 1);
        return SETTLE;
    case 3:
        AT_ASSERT_EQ_INT(c->log.n, 1);
        AT_ASSERT_EQ_INT(c->log.v[0], 1);
        at_semaphore_release(&c->s, 1);
        AT_ASSERT_EQ_INT(c->s.waiters, 0);
        return SETTLE * 8;
    case 4: {
        static const int want[] = {1, 2};
        assert_log(&c->log, want, 2);
        /* Both released what they took, plus the driver's 3. */
        AT_ASSERT_EQ_U64(c->s.permits, 3);
        for (int i = 0; i < 2; i++) {
            AT_ASSERT_EQ_INT(task_state(c->w[i]), AT_TASK_COMPLETE);
            at_join_handle_release(&c->w[i]);
        }
        return 0;
    }
    }
    return 0;
}

AT_TEST(semaphore_fifo_head_of_line)
{
    sem_ctx c = {0};
    at_semaphore_init(&c.s, 0);
    AT_ASSERT_EQ_INT(run_driver(sem_fifo_steps, &c), 5);
}

/* Cancelling the head request lets the smaller one behind it through;
 * cancelling a granted request gives its permits back. */
static int sem_cancel_steps(driver *d)
{
    sem_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        c->w[0] = AT_SPAWN(NULL, "big", acquirer, acquirer_new, &c->s, &c->log,
                           3, 1, 0);
        c->w[1] = AT_SPAWN(NULL, "small", acquirer, acquirer_new, &c->s,
                           &c->log, 1, 2, SETTLE * 4);
        c->w[2] = AT_SPAWN(NULL, "mid", acquirer, acquirer_new, &c->s, &c->log,
                           2, 3, 0);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_INT(c->s.waiters, 3);
        at_semaphore_release(&c->s, 1);
        AT_ASSERT_EQ_U64(c->s.permits, 1);
        at_task_abort(c->w[0]); /* the head, wanting 3 */
        return 1;
    case 2:
        /* The head left; "small" got the permit at once. */
        AT_ASSERT_EQ_INT(task_state(c->w[0]), AT_TASK_CANCELLED);
        AT_ASSERT_EQ_U64(c->s.permits, 0);
        AT_ASSERT_EQ_INT(c->s.waiters, 1);
        AT_ASSERT_EQ_U64(c->s.head->waker.task->id, at_join_handle_id(c->w[2]));
        return SETTLE;
    case 3:
        AT_ASSERT_EQ_INT(c->log.n, 1);
        AT_ASSERT_EQ_INT(c->log.v[0], 2);
        /* Grant "mid" its 2, then abort it before it observes them. */
        at_semaphore_release(&c->s, 2);
        AT_ASSERT_EQ_U64(c->s.permits, 0);
        AT_ASSERT_EQ_INT(c->s.waiters, 0);
        at_task_abort(c->w[2]);
        return 1;
    case 4:
        AT_ASSERT_EQ_INT(task_state(c->w[2]), AT_TASK_CANCELLED);
        AT_ASSERT_EQ_U64(c->s.permits, 2);
        return SETTLE * 8;
    case 5:
        AT_ASSERT_EQ_INT(task_state(c->w[1]), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_U64(c->s.permits, 3);
        AT_ASSERT_EQ_INT(c->log.n, 1);
        for (int i = 0; i < 3; i++)
            at_join_handle_release(&c->w[i]);
        return 0;
    }
    return 0;
}

AT_TEST(semaphore_cancel_head_and_granted)
{
    sem_ctx c = {0};
    at_semaphore_init(&c.s, 0);
    AT_ASSERT_EQ_INT(run_driver(sem_cancel_steps, &c), 6);
}

/* Many tasks share 2 permits: never more than 2 inside at once. */
typedef struct sem_bound_ctx {
    at_semaphore s;
    int inside, max_inside, done;
} sem_bound_ctx;

typedef struct bounded_worker {
    AT_FRAME;
    sem_bound_ctx *c;
    int i;
    union {
        at_semaphore_acquire_fut acq;
        at_yield_fut y;
    } aw;
} bounded_worker;

AT_ASYNC_FN(bounded_worker_run, bounded_worker)
{
    AT_BEGIN(bounded_worker);
    AT_AWAIT(at_semaphore_acquire(&self->aw.acq, &self->c->s, 1));
    if (++self->c->inside > self->c->max_inside)
        self->c->max_inside = self->c->inside;
    for (self->i = 0; self->i < 3; self->i++)
        AT_AWAIT(at_yield(&self->aw.y));
    self->c->inside--;
    self->c->done++;
    at_semaphore_release(&self->c->s, 1);
    AT_END;
}

static at_frame *bounded_worker_new(bounded_worker *s, sem_bound_ctx *c)
{
    s->c = c;
    return AT_START(s, bounded_worker_run);
}

static int sem_bound_steps(driver *d)
{
    sem_bound_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        for (int i = 0; i < 10; i++) {
            at_join_handle h = AT_SPAWN(NULL, "worker", bounded_worker,
                                        bounded_worker_new, c);
            CU_ASSERT_PTR_NOT_NULL_FATAL(h.task);
            at_join_handle_release(&h);
        }
        return 100;
    case 1:
        AT_ASSERT_EQ_INT(c->done, 10);
        AT_ASSERT_EQ_INT(c->max_inside, 2);
        AT_ASSERT_EQ_U64(c->s.permits, 2);
        AT_ASSERT_EQ_INT(c->s.waiters, 0);
        return 0;
    }
    return 0;
}

AT_TEST(semaphore_bounds_concurrency)
{
    sem_bound_ctx c = {0};
    at_semaphore_init(&c.s, 2);
    AT_ASSERT_EQ_INT(run_driver(sem_bound_steps, &c), 2);
}

/* ====================================================================== */
/* Notify                                                                 */
/* ====================================================================== */

typedef struct notify_ctx {
    at_notify n;
    order_log log;
    at_join_handle w[3];
} notify_ctx;

static void spawn_notified(driver *d, notify_ctx *c, int count)
{
    for (int i = 0; i < count; i++) {
        c->w[i] = AT_SPAWN(NULL, "notified", notified, notified_new, &c->n,
                           &c->log, i + 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c->w[i].task);
    }
}

static void release_all(at_join_handle *w, int count)
{
    for (int i = 0; i < count; i++)
        at_join_handle_release(&w[i]);
}

/* A notify_one with no waiter is stored and consumed by the next wait. */
static int notify_permit_steps(driver *d)
{
    notify_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        at_notify_one(&c->n);
        at_notify_one(&c->n); /* a permit, not a count */
        AT_ASSERT_EQ_INT(c->n.permit, 1);
        spawn_notified(d, c, 2);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_INT(c->log.n, 1);
        AT_ASSERT_EQ_INT(c->log.v[0], 1);
        AT_ASSERT_EQ_INT(c->n.permit, 0);
        AT_ASSERT_EQ_INT(c->n.waiters, 1);
        AT_ASSERT_EQ_U64(c->n.head->waker.task->id, at_join_handle_id(c->w[1]));
        {
            notified *s = at_join_handle_state(c->w[1]);
            assert_leaf(&s->wait.leaf, "at_notify_wait", AT_RES_NOTIFY, &c->n);
        }
        at_notify_one(&c->n);
        AT_ASSERT_EQ_INT(c->n.permit, 0);
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(c->log.n, 2);
        release_all(c->w, 2);
        return 0;
    }
    return 0;
}

AT_TEST(notify_one_stores_a_permit)
{
    notify_ctx c = {0};
    at_notify_init(&c.n);
    AT_ASSERT_EQ_U64(c.n.magic, AT_NOTIFY_MAGIC);
    AT_ASSERT_EQ_INT(run_driver(notify_permit_steps, &c), 3);
}

/* notify_one wakes the waiters one at a time in FIFO order; notify_all
 * wakes every current waiter and stores nothing. */
static int notify_order_steps(driver *d)
{
    notify_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        spawn_notified(d, c, 3);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_INT(c->n.waiters, 3);
        at_notify_one(&c->n);
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(c->log.n, 1);
        AT_ASSERT_EQ_INT(c->log.v[0], 1);
        AT_ASSERT_EQ_INT(c->n.waiters, 2);
        at_notify_all(&c->n);
        AT_ASSERT_EQ_INT(c->n.waiters, 0);
        AT_ASSERT_EQ_INT(c->n.permit, 0);
        return SETTLE;
    case 3: {
        static const int want[] = {1, 2, 3};
        assert_log(&c->log, want, 3);
        at_notify_all(&c->n); /* nobody waits: nothing stored */
        AT_ASSERT_EQ_INT(c->n.permit, 0);
        release_all(c->w, 3);
        return 0;
    }
    }
    return 0;
}

AT_TEST(notify_one_fifo_and_notify_all)
{
    notify_ctx c = {0};
    at_notify_init(&c.n);
    AT_ASSERT_EQ_INT(run_driver(notify_order_steps, &c), 4);
}

/* A waiter cancelled after a notify_one reached it passes it on (to the
 * next waiter, or as the stored permit); after a notify_all it does not. */
static int notify_cancel_steps(driver *d)
{
    notify_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        spawn_notified(d, c, 3);
        return SETTLE;
    case 1:
        at_task_abort(c->w[1]); /* queued: just leaves */
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w[1]), AT_TASK_CANCELLED);
        AT_ASSERT_EQ_INT(c->n.waiters, 2);
        at_notify_one(&c->n); /* to w0 */
        at_task_abort(c->w[0]);
        return SETTLE;
    case 3: {
        /* w0 never saw it: w2 got it instead. */
        static const int want[] = {3};
        assert_log(&c->log, want, 1);
        AT_ASSERT_EQ_INT(task_state(c->w[0]), AT_TASK_CANCELLED);
        AT_ASSERT_EQ_INT(c->n.waiters, 0);
        AT_ASSERT_EQ_INT(c->n.permit, 0);
        release_all(c->w, 3);
        c->log.n = 0;
        spawn_notified(d, c, 2);
        return SETTLE;
    }
    case 4:
        /* notify_all then cancel one: the other still completes, and the
         * cancelled one passes nothing on. */
        at_notify_all(&c->n);
        at_task_abort(c->w[0]);
        return SETTLE;
    case 5: {
        static const int want[] = {2};
        assert_log(&c->log, want, 1);
        AT_ASSERT_EQ_INT(c->n.permit, 0);
        /* A lone waiter cancelled after notify_one: the permit is kept. */
        release_all(c->w, 2);
        c->log.n = 0;
        spawn_notified(d, c, 1);
        return SETTLE;
    }
    case 6:
        at_notify_one(&c->n);
        at_task_abort(c->w[0]);
        return SETTLE;
    case 7:
        AT_ASSERT_EQ_INT(c->log.n, 0);
        AT_ASSERT_EQ_INT(c->n.permit, 1);
        release_all(c->w, 1);
        return 0;
    }
    return 0;
}

AT_TEST(notify_cancel_passes_notify_one_on)
{
    notify_ctx c = {0};
    at_notify_init(&c.n);
    AT_ASSERT_EQ_INT(run_driver(notify_cancel_steps, &c), 8);
}

/* ====================================================================== */
/* Sites                                                                  */
/* ====================================================================== */

AT_TEST(leaf_sites_are_distinct_named_functions)
{
    at_mutex m;
    at_semaphore s;
    at_notify n;
    at_mutex_lock_fut lf;
    at_semaphore_acquire_fut af;
    at_notify_wait_fut nf;
    at_mutex_init(&m);
    at_semaphore_init(&s, 1);
    at_notify_init(&n);
    at_frame *a = at_mutex_lock(&lf, &m);
    at_frame *b = at_semaphore_acquire(&af, &s, 7);
    at_frame *c = at_notify_wait(&nf, &n);
    AT_ASSERT_EQ_STR(a->site->function, "at_mutex_lock");
    AT_ASSERT_EQ_STR(b->site->function, "at_semaphore_acquire");
    AT_ASSERT_EQ_STR(c->site->function, "at_notify_wait");
    AT_ASSERT_EQ_U64(a->site->magic, AT_SITE_MAGIC);
    CU_ASSERT(a->site->poll != b->site->poll && b->site->poll != c->site->poll);
    AT_ASSERT_EQ_U64(af.leaf.wait.detail[0], 7);
    AT_ASSERT_EQ_U64(lf.leaf.wait.since_ns, 0); /* not waiting yet */
    /* Dropping futures never polled is harmless. */
    at_frame_drop(a);
    at_frame_drop(b);
    at_frame_drop(c);
    AT_ASSERT_EQ_INT(m.locked, 0);
    AT_ASSERT_EQ_U64(s.permits, 1);
}

/* ====================================================================== */
/* Across threads                                                         */
/* ====================================================================== */

#include <pthread.h>
#include <sched.h>

#define CROSS_ROUNDS 20000

typedef struct cross_ctx {
    at_mutex m;
    at_semaphore s;
    uint64_t counter; /* guarded by m */
} cross_ctx;

/* try_lock / unlock from a plain thread, competing with a task. */
static void *thread_lock_main(void *arg)
{
    cross_ctx *c = arg;
    for (int i = 0; i < CROSS_ROUNDS; i++) {
        while (at_mutex_try_lock(&c->m) != 0)
            sched_yield();
        c->counter++;
        if (at_mutex_unlock(&c->m) != 0)
            return (void *)1;
    }
    return NULL;
}

typedef struct cross_locker {
    AT_FRAME;
    cross_ctx *c;
    int i;
    at_mutex_lock_fut lock;
} cross_locker;

AT_ASYNC_FN(cross_locker_run, cross_locker)
{
    AT_BEGIN(cross_locker);
    for (self->i = 0; self->i < CROSS_ROUNDS; self->i++) {
        AT_AWAIT(at_mutex_lock(&self->lock, &self->c->m));
        self->c->counter++;
        AT_ASSERT_EQ_INT(at_mutex_unlock(&self->c->m), 0);
    }
    AT_END;
}

AT_TEST(mutex_shared_with_a_thread)
{
    cross_ctx c = {0};
    cross_locker s;
    at_mutex_init(&c.m);
    s.c = &c;
    pthread_t th;
    at_runtime *rt = at_runtime_new(NULL);
    AT_ASSERT_EQ_INT(pthread_create(&th, NULL, thread_lock_main, &c), 0);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&s, cross_locker_run), "locker"), 0);
    void *ret;
    pthread_join(th, &ret);
    CU_ASSERT_PTR_NULL(ret);
    AT_ASSERT_EQ_U64(c.counter, 2 * CROSS_ROUNDS);
    AT_ASSERT_EQ_INT(c.m.locked, 0);
    AT_ASSERT_EQ_INT(c.m.waiters, 0);
    at_runtime_free(rt);
}

/* Permits released one by one from a thread wake the task acquiring them. */
static void *thread_release_main(void *arg)
{
    cross_ctx *c = arg;
    for (int i = 0; i < CROSS_ROUNDS; i++) {
        at_semaphore_release(&c->s, 1);
        if (i % 64 == 0)
            sched_yield();
    }
    return NULL;
}

typedef struct cross_acquirer {
    AT_FRAME;
    cross_ctx *c;
    int i;
    at_semaphore_acquire_fut acq;
} cross_acquirer;

AT_ASYNC_FN(cross_acquirer_run, cross_acquirer)
{
    AT_BEGIN(cross_acquirer);
    for (self->i = 0; self->i < CROSS_ROUNDS; self->i++)
        AT_AWAIT(at_semaphore_acquire(&self->acq, &self->c->s, 1));
    AT_END;
}

AT_TEST(semaphore_released_from_a_thread)
{
    cross_ctx c = {0};
    cross_acquirer s;
    at_semaphore_init(&c.s, 0);
    s.c = &c;
    pthread_t th;
    at_runtime *rt = at_runtime_new(NULL);
    AT_ASSERT_EQ_INT(pthread_create(&th, NULL, thread_release_main, &c), 0);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&s, cross_acquirer_run), "acq"), 0);
    pthread_join(th, NULL);
    AT_ASSERT_EQ_U64(c.s.permits, 0);
    AT_ASSERT_EQ_INT(c.s.waiters, 0);
    at_runtime_free(rt);
}

/* ====================================================================== */
/* On the multi-thread runtime                                            */
/* ====================================================================== */

#define MT_TASKS 8
#define MT_ROUNDS 2000

/* A runtime with two workers, or NULL (with a note) if the flavor is not
 * built in. */
static at_runtime *mt_runtime(void)
{
    at_runtime_options o = {AT_FLAVOR_MULTI_THREAD, 2, "prims"};
    at_runtime *rt = at_runtime_new(&o);
    if (!rt)
        fprintf(stderr, "multi-thread flavor not available: test skipped\n");
    return rt;
}

typedef struct mt_ctx {
    at_mutex m;
    at_semaphore s;
    uint64_t counter;          /* guarded by m */
    _Atomic int inside, max_inside;
} mt_ctx;

/* Lock, bump the counter (sometimes yielding inside the critical section so
 * others queue), unlock; then the same through 3 permits of 2. */
typedef struct mt_worker {
    AT_FRAME;
    mt_ctx *c;
    int i;
    uint64_t seen;
    union {
        at_mutex_lock_fut lock;
        at_semaphore_acquire_fut acq;
        at_yield_fut y;
    } aw;
} mt_worker;

AT_ASYNC_FN(mt_worker_run, mt_worker)
{
    AT_BEGIN(mt_worker);
    for (self->i = 0; self->i < MT_ROUNDS; self->i++) {
        AT_AWAIT(at_mutex_lock(&self->aw.lock, &self->c->m));
        self->seen = self->c->counter;
        if (self->i % 16 == 0)
            AT_AWAIT(at_yield(&self->aw.y));
        self->c->counter = self->seen + 1;
        AT_ASSERT_EQ_U64(self->c->m.owner_id, at_current_task_id());
        AT_ASSERT_EQ_INT(at_mutex_unlock(&self->c->m), 0);

        AT_AWAIT(at_semaphore_acquire(&self->aw.acq, &self->c->s, 1));
        {
            int now = atomic_fetch_add(&self->c->inside, 1) + 1;
            int max = atomic_load(&self->c->max_inside);
            while (now > max &&
                   !atomic_compare_exchange_weak(&self->c->max_inside, &max, now))
                ;
        }
        if (self->i % 8 == 0)
            AT_AWAIT(at_yield(&self->aw.y));
        atomic_fetch_sub(&self->c->inside, 1);
        at_semaphore_release(&self->c->s, 1);
    }
    AT_END;
}

static at_frame *mt_worker_new(mt_worker *s, mt_ctx *c)
{
    s->c = c;
    return AT_START(s, mt_worker_run);
}

typedef struct mt_main {
    AT_FRAME;
    mt_ctx *c;
    at_join_handle h[MT_TASKS];
    int i;
    at_join_fut join;
} mt_main;

AT_ASYNC_FN(mt_main_run, mt_main)
{
    AT_BEGIN(mt_main);
    for (self->i = 0; self->i < MT_TASKS; self->i++) {
        self->h[self->i] = AT_SPAWN(NULL, "mt-worker", mt_worker, mt_worker_new,
                                    self->c);
        CU_ASSERT_PTR_NOT_NULL_FATAL(self->h[self->i].task);
    }
    for (self->i = 0; self->i < MT_TASKS; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        AT_ASSERT_EQ_INT(self->join.status, 0);
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

AT_TEST(multi_thread_mutex_and_semaphore)
{
    at_runtime *rt = mt_runtime();
    if (!rt)
        return;
    mt_ctx c = {0};
    mt_main m;
    at_mutex_init(&c.m);
    at_semaphore_init(&c.s, 2);
    m.c = &c;
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&m, mt_main_run), "main"), 0);
    at_runtime_free(rt);
    AT_ASSERT_EQ_U64(c.counter, MT_TASKS * MT_ROUNDS);
    AT_ASSERT_EQ_INT(c.m.locked, 0);
    AT_ASSERT_EQ_INT(c.m.waiters, 0);
    AT_ASSERT_EQ_U64(c.s.permits, 2);
    AT_ASSERT_EQ_INT(c.s.waiters, 0);
    CU_ASSERT(atomic_load(&c.max_inside) <= 2);
    AT_ASSERT_EQ_INT(atomic_load(&c.inside), 0);
}
