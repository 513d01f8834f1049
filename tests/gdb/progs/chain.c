/* chain.c - GDB test program (and benchmark subject): long chains of joins,
 * for the deadlock analysis's cost on join chains.
 *
 * Task ids: 1 main, 2 "a" and 3 "b" lock two mutexes in opposite order (a
 * deadlock cycle).  Then two chains of N = CHAIN_TASKS / 2 tasks (the
 * environment's CHAIN_TASKS, default 3000), each task joining the next one
 * (a higher id): "link" tasks 4 .. N+3, the last of which joins "a" (all
 * stuck), and "free" tasks N+4 .. 2N+3, the last of which joins task 2N+4
 * "sleeper", which sleeps an hour (none stuck).  Nothing finishes: after
 * "go" the program exits 0.
 */
#include "common.h"

static at_runtime *rt;
static at_mutex m1, m2;
static at_join_handle *handles; /* handles[i]: task i + 2 */
static long nlinks;

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

typedef struct {
    AT_FRAME;
    at_join_handle *next;
    at_join_fut join;
} link_state;

/* Joins the task whose handle is in *next (filled in before it runs). */
AT_ASYNC_FN(join_next, link_state)
{
    AT_BEGIN(link_state);
    AT_AWAIT(at_join(&self->join, *self->next)); /* @await:join_next */
    AT_END;
}
static at_frame *join_next(link_state *s, at_join_handle *next)
{
    s->next = next;
    return AT_START(s, join_next);
}

typedef struct {
    AT_FRAME;
    at_sleep_fut sleep;
} sleep_state;

AT_ASYNC_FN(sleep_long, sleep_state)
{
    AT_BEGIN(sleep_state);
    AT_AWAIT(at_sleep(&self->sleep, 3600 * AT_SEC)); /* @await:sleep_long */
    AT_END;
}
static at_frame *sleep_long(sleep_state *s) { return AT_START(s, sleep_long); }

typedef struct {
    AT_FRAME;
    long i;
    at_notify_wait_fut wait;
} main_state;

static at_notify never;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    handles[0] = AT_SPAWN(NULL, "a", pair_state, lock_pair, &m1, &m2);
    handles[1] = AT_SPAWN(NULL, "b", pair_state, lock_pair, &m2, &m1);
    for (self->i = 0; self->i < nlinks; self->i++)
        handles[2 + self->i] = AT_SPAWN(
            NULL, "link", link_state, join_next,
            self->i + 1 < nlinks ? &handles[3 + self->i] : &handles[0]);
    for (self->i = 0; self->i < nlinks; self->i++)
        handles[2 + nlinks + self->i] = AT_SPAWN(
            NULL, "free", link_state, join_next, &handles[3 + nlinks + self->i]);
    handles[2 + 2 * nlinks] = AT_SPAWN(NULL, "sleeper", sleep_state, sleep_long);
    checkpoint_settled();
    AT_AWAIT(at_notify_wait(&self->wait, &never)); /* @await:main_task */
    AT_END;
}
static at_frame *main_task(main_state *s) { return AT_START(s, main_task); }

static void release(void)
{
    printf("done\n");
    fflush(stdout);
    _exit(0);
}

int main(void)
{
    main_state st;
    const char *n = getenv("CHAIN_TASKS");
    nlinks = (n && *n ? atol(n) : 3000) / 2;
    handles = calloc(2 * (size_t)nlinks + 3, sizeof *handles);
    rt = at_runtime_new(NULL);
    at_mutex_init(&m1);
    at_mutex_init(&m2);
    at_notify_init(&never);
    if (!rt || !handles)
        return 2;
    checkpoint_start(release, 0);
    at_block_on(rt, main_task(&st), "main");
    return 1; /* not reached: the tasks never finish */
}
