/* 30_haystack - one deadlock among many healthy waiting tasks.
 *
 * 20,000 tasks by default (ASYNCTRACE_HAYSTACK_TASKS sets another count:
 * the benchmark uses 100,000).  main (task 1) holds `busy` and sleeps; the
 * hay waits in three shapes, a third each: on a notify nobody has
 * signalled yet, asleep for an hour, queued on `busy` (held by main, which
 * will wake up: not stuck).  In the middle of the spawns, "needle-a" and
 * "needle-b" lock `left` and `right` in opposite orders: the one proven
 * cycle.  info async-diagnose must find the needles, say why the hay
 * cannot be settled or is not stuck, and fit one screen.  Checkpoint
 * (quiet, live). */
#include <stdlib.h>

#include "scenario.h"

#define DEFAULT_TASKS 20000

static at_mutex busy, left, right;
static at_notify later;
static unsigned long ntasks = DEFAULT_TASKS;

enum { HAY_NOTIFY, HAY_SLEEP, HAY_MUTEX };

typedef struct {
    AT_FRAME;
    int shape;
    union {
        at_notify_wait_fut ring;
        at_sleep_fut nap;
        at_mutex_lock_fut lock;
    } aw;
} hay_state;

AT_ASYNC_FN(hay, hay_state)
{
    AT_BEGIN(hay_state);
    if (self->shape == HAY_NOTIFY)
        AT_AWAIT(at_notify_wait(&self->aw.ring, &later));
    else if (self->shape == HAY_SLEEP)
        AT_AWAIT(at_sleep(&self->aw.nap, 3600 * AT_SEC));
    else
        AT_AWAIT(at_mutex_lock(&self->aw.lock, &busy));
    AT_END;
}

static at_frame *hay(hay_state *s, int shape)
{
    s->shape = shape;
    return AT_START(s, hay);
}

typedef struct {
    AT_FRAME;
    at_mutex *first, *second;
    at_mutex_lock_fut lock;
    at_yield_fut yield;
} needle_state;

/* The bug on show: two lock orders. */
AT_ASYNC_FN(needle, needle_state)
{
    AT_BEGIN(needle_state);
    AT_AWAIT(at_mutex_lock(&self->lock, self->first));
    AT_AWAIT(at_yield(&self->yield));
    AT_AWAIT(at_mutex_lock(&self->lock, self->second)); /* @await:needle */
    AT_END;
}

static at_frame *needle(needle_state *s, at_mutex *first, at_mutex *second)
{
    s->first = first;
    s->second = second;
    return AT_START(s, needle);
}

typedef struct {
    AT_FRAME;
    unsigned long i, hay_count;
    at_join_handle h;
    at_sleep_fut nap;
} main_state;

static void spawn_hay(main_state *self, unsigned long from, unsigned long to)
{
    for (self->i = from; self->i < to; self->i++) {
        int shape = (int)(self->i * 3 / self->hay_count);
        self->h = AT_SPAWN(NULL, "hay", hay_state, hay, shape);
        SCN_CHECK(self->h.task);
        at_task_detach(&self->h);
    }
}

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    SCN_CHECK(at_mutex_try_lock(&busy) == 0);
    self->hay_count = ntasks - 3;
    spawn_hay(self, 0, self->hay_count / 2);
    self->h = AT_SPAWN(NULL, "needle-a", needle_state, needle, &left, &right);
    SCN_CHECK(self->h.task);
    at_task_detach(&self->h);
    self->h = AT_SPAWN(NULL, "needle-b", needle_state, needle, &right, &left);
    SCN_CHECK(self->h.task);
    at_task_detach(&self->h);
    spawn_hay(self, self->hay_count / 2, self->hay_count);
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    AT_END;
}

int main(void)
{
    const char *n = getenv("ASYNCTRACE_HAYSTACK_TASKS");
    if (n && *n)
        ntasks = strtoul(n, NULL, 10);
    SCN_CHECK(ntasks >= 6);
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    at_mutex_init(&busy);
    at_mutex_init(&left);
    at_mutex_init(&right);
    at_notify_init(&later);
    scn_checkpoint_quiet1(rt, ntasks);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
