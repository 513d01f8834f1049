/* test_mt_dump.c - live dumps of multi-thread runtimes: every worker
 * stopped at the barrier, tasks traced wherever they were queued, a worker
 * stuck inside a poll reported (not waited for), dumps asked from inside a
 * task, concurrent requests served one after another, and no wake-up lost
 * by a dump. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asynctrace.h"
#include "cunit_main.h"
#include "test_support.h"

static at_runtime *mt_new(unsigned workers)
{
    return mt_runtime(workers, "dump-test");
}

static void wait_state(at_join_handle h, uint32_t state)
{
    for (int i = 0; i < 5000 && atomic_load(&h.task->state) != state; i++)
        usleep(200);
    AT_ASSERT_EQ_INT(atomic_load(&h.task->state), state);
}

/* The outermost native frame of a task's first backtrace (its top poll
 * function, right under at_root_poll). */
static const char *top_symbol(const at_dump_task *t)
{
    if (!t || !t->nbacktraces || !t->backtraces[0].nframes)
        return NULL;
    const at_dump_backtrace *b = &t->backtraces[0];
    return b->frames[b->nframes - 1].symbol;
}

/* ---- Tasks ---- */

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
    _Atomic int *flag; /* 1 while spinning; set to 2 to release */
    at_yield_fut y;
} spinner_state;
AT_ASYNC_FN(spinner, spinner_state)
{
    AT_BEGIN(spinner_state);
    atomic_store(self->flag, 1);
    while (atomic_load(self->flag) == 1)
        ;
    AT_AWAIT(at_yield(&self->y));
    AT_END;
}

typedef struct {
    AT_FRAME;
    uint64_t ns;
    at_sleep_fut s;
} napper_state;
AT_ASYNC_FN(napper, napper_state)
{
    AT_BEGIN(napper_state);
    AT_AWAIT(at_sleep(&self->s, self->ns));
    AT_END;
}

/* ---- A worker stuck in a poll does not hang the dump ---- */

AT_TEST(mt_dump_reports_stuck_worker_and_completes)
{
    at_runtime *rt = mt_new(2);
    at_notify n;
    at_notify_init(&n);
    _Atomic int flag = 0;
    waiter_state ws = {.n = &n};
    spinner_state sp = {.flag = &flag};
    at_join_handle hw = at_spawn_frame(rt, AT_START(&ws, waiter), "waiter");
    wait_state(hw, AT_TASK_IDLE);
    at_join_handle hs = at_spawn_frame(rt, AT_START(&sp, spinner), "stuck");
    while (atomic_load(&flag) != 1)
        usleep(100);

    at_dump *d = NULL;
    uint64_t t0 = at_now_ns();
    AT_ASSERT_EQ_INT(at_dump_runtime_tasks(rt, 5 * AT_SEC, &d), 0);
    uint64_t took = at_now_ns() - t0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_TRUE(took >= 250 * AT_MS); /* it waited for the barrier's timeout */
    AT_ASSERT_EQ_STR(d->source, "live");
    AT_ASSERT_EQ_U64(d->nruntimes, 1);
    AT_ASSERT_EQ_INT(d->runtimes[0].flavor, AT_FLAVOR_MULTI_THREAD);

    const at_dump_task *st = at_dump_find_task(d, at_join_handle_id(hs));
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    AT_ASSERT_EQ_INT(st->state, AT_TASK_RUNNING);
    AT_ASSERT_EQ_INT(st->traced, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st->trace_note);
    CU_ASSERT_TRUE(!strncmp(st->trace_note, "running: on worker ", 19));
    CU_ASSERT_TRUE(strstr(st->trace_note, "untraceable") != NULL);
    CU_ASSERT_TRUE(st->thread != 0);
    CU_ASSERT_TRUE(st->worker == 0 || st->worker == 1);

    const at_dump_task *wt = at_dump_find_task(d, at_join_handle_id(hw));
    CU_ASSERT_PTR_NOT_NULL_FATAL(wt);
    AT_ASSERT_EQ_INT(wt->state, AT_TASK_IDLE);
    AT_ASSERT_EQ_INT(wt->traced, 1);
    AT_ASSERT_EQ_U64(wt->nbacktraces, 1);
    AT_ASSERT_EQ_STR(top_symbol(wt), "waiter_poll");

    int noted = 0;
    for (size_t i = 0; i < d->nerrors; i++)
        if (strstr(d->errors[i], "did not reach the dump's safe point"))
            noted++;
    AT_ASSERT_EQ_INT(noted, 1);
    at_dump_free(d);

    /* The traced waiter still gets its wake-up; the stuck task goes on. */
    at_notify_one(&n);
    wait_state(hw, AT_TASK_COMPLETE);
    atomic_store(&flag, 2);
    wait_state(hs, AT_TASK_COMPLETE);
    at_join_handle_release(&hw);
    at_join_handle_release(&hs);
    at_runtime_free(rt);
}

/* ---- An idle runtime (every worker parked) is dumped promptly ---- */

AT_TEST(mt_dump_of_parked_runtime)
{
    at_runtime *rt = mt_new(4);
    napper_state ns[8];
    at_join_handle h[8];
    for (int i = 0; i < 8; i++) {
        ns[i].ns = 30 * AT_SEC;
        h[i] = at_spawn_frame(rt, AT_START(&ns[i], napper), "napper");
    }
    for (int i = 0; i < 8; i++)
        wait_state(h[i], AT_TASK_IDLE);
    usleep(20000);
    at_dump *d = NULL;
    AT_ASSERT_EQ_INT(at_dump_runtime_tasks(rt, 10 * AT_SEC, &d), 0);
    /* Parked workers come to the barrier when woken; on a loaded machine
     * one may come late, which the dump notes (and nothing else). */
    for (size_t i = 0; i < d->nerrors; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(d->errors[i], "did not reach the dump's safe point"));
    AT_ASSERT_EQ_U64(d->runtimes[0].ntasks, 8);
    for (int i = 0; i < 8; i++) {
        const at_dump_task *t = at_dump_find_task(d, at_join_handle_id(h[i]));
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        AT_ASSERT_EQ_INT(t->traced, 1);
        AT_ASSERT_EQ_STR(top_symbol(t), "napper_poll");
        AT_ASSERT_EQ_INT(t->await->children[0].resource->kind, AT_RES_SLEEP);
        AT_ASSERT_EQ_U64(t->polls, 1); /* trace polls are not counted */
    }
    at_dump_free(d);
    for (int i = 0; i < 8; i++)
        at_join_handle_release(&h[i]);
    at_runtime_free(rt);
}

/* ---- From inside a task; the traced tasks still finish ---- */

typedef struct {
    AT_FRAME;
    int i;
    at_join_handle h[6];
    napper_state ns[6];
    at_join_fut join;
    at_sleep_fut settle;
    at_dump_fut dump;
    at_dump *d;
    int status, joined;
    uint64_t my_id;
} dumping_root_state;

AT_ASYNC_FN(dumping_root, dumping_root_state)
{
    AT_BEGIN(dumping_root_state);
    self->my_id = at_current_task_id();
    for (self->i = 0; self->i < 6; self->i++) {
        self->ns[self->i].ns = 80 * AT_MS;
        self->h[self->i] = at_spawn_frame(NULL, AT_START(&self->ns[self->i], napper), "napper");
    }
    AT_AWAIT(at_sleep(&self->settle, 10 * AT_MS));
    AT_AWAIT(at_dump_tasks(&self->dump));
    self->status = self->dump.status;
    self->d = self->dump.result;
    for (self->i = 0; self->i < 6; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        if (self->join.status == 0)
            self->joined++;
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

AT_TEST(mt_dump_from_inside_a_task)
{
    at_runtime *rt = mt_new(3);
    dumping_root_state *st = calloc(1, sizeof(*st));
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(st, dumping_root), "root"), 0);
    AT_ASSERT_EQ_INT(st->status, 0);
    AT_ASSERT_EQ_INT(st->joined, 6);
    at_dump *d = st->d;
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    AT_ASSERT_EQ_U64(d->runtimes[0].ntasks, 7);
    const at_dump_task *me = at_dump_find_task(d, st->my_id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(me);
    AT_ASSERT_EQ_INT(me->state, AT_TASK_RUNNING);
    AT_ASSERT_EQ_STR(me->trace_note, "running");
    int traced = 0;
    for (size_t i = 0; i < d->runtimes[0].ntasks; i++) {
        const at_dump_task *t = &d->runtimes[0].tasks[i];
        if (t->id != st->my_id && t->traced && !strcmp(top_symbol(t), "napper_poll"))
            traced++;
    }
    AT_ASSERT_EQ_INT(traced, 6);
    at_dump_free(d);
    free(st);
    at_runtime_free(rt);
}

/* ---- Concurrent requests are served one after another ---- */

typedef struct {
    at_runtime *rt;
    int ok, ntasks_bad;
} requester_ctx;

static void *requester_main(void *arg)
{
    requester_ctx *c = arg;
    for (int i = 0; i < 10; i++) {
        at_dump *d = NULL;
        if (at_dump_runtime_tasks(c->rt, 10 * AT_SEC, &d) == 0 && d)
            c->ok++;
        if (d && (d->nruntimes != 1 || d->runtimes[0].ntasks != 16))
            c->ntasks_bad++;
        at_dump_free(d);
    }
    return NULL;
}

/* The runtime's task count as a dump sees it (-1 when no dump came). */
static long dumped_tasks(at_runtime *rt)
{
    at_dump *d = NULL;
    long n = -1;
    if (at_dump_runtime_tasks(rt, 10 * AT_SEC, &d) == 0 && d && d->nruntimes == 1)
        n = (long)d->runtimes[0].ntasks;
    at_dump_free(d);
    return n;
}

AT_TEST(mt_concurrent_dump_requests)
{
    at_runtime *rt = mt_new(2);
    napper_state ns[16];
    at_join_handle h[16];
    for (int i = 0; i < 16; i++) {
        ns[i].ns = (uint64_t)(i % 4 + 1) * AT_MS;
        h[i] = at_spawn_frame(rt, AT_START(&ns[i], napper), "napper");
        at_task_detach(&h[i]);
    }
    /* 16 tasks that outlive the test (an hour's sleep; freed with the
     * runtime). */
    napper_state longs[16];
    at_join_handle lh[16];
    for (int i = 0; i < 16; i++) {
        longs[i].ns = 3600 * AT_SEC;
        lh[i] = at_spawn_frame(rt, AT_START(&longs[i], napper), "long");
    }
    /* Wait (at most 60 s, however loaded the machine) until the short
     * nappers are done and freed: then every dump must see the 16 long
     * ones exactly. */
    long n = -1;
    for (int i = 0; i < 600 && (n = dumped_tasks(rt)) != 16; i++)
        usleep(100000);
    AT_ASSERT_EQ_INT(n, 16);
    requester_ctx c[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        c[i] = (requester_ctx){rt, 0, 0};
        pthread_create(&th[i], NULL, requester_main, &c[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        AT_ASSERT_EQ_INT(c[i].ok, 10);
        AT_ASSERT_EQ_INT(c[i].ntasks_bad, 0);
    }
    for (int i = 0; i < 16; i++)
        at_join_handle_release(&lh[i]);
    at_runtime_free(rt);
}
