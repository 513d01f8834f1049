/* 27_holder_in_syscall - a lock holder blocked in read() inside its poll.
 *
 * "cache" (task 2) locks `table`, yields once (so "lookup", task 3, queues
 * for the lock), then calls a blocking read() on a pipe inside its poll:
 * the runtime's only thread is stuck.  main (task 1) joins the lookup.
 * info async-diagnose names the thread blocked in read() at refresh's line,
 * that every worker of the runtime is stuck, and lookup and main behind it.
 * No live dump (offline). */
#include <unistd.h>

#include "scenario.h"

static at_mutex table;
static int pipe_fds[2];

typedef struct {
    AT_FRAME;
    char byte;
    at_mutex_lock_fut lock;
    at_yield_fut yield;
} cache_state;

/* The bug on show: blocking I/O while holding a lock, inside a poll. */
AT_ASYNC_FN(refresh, cache_state)
{
    AT_BEGIN(cache_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &table));
    AT_AWAIT(at_yield(&self->yield));
    scn_hang_mark();
    if (read(pipe_fds[0], &self->byte, 1) < 0) /* @native:refresh */
        scn_fail("read failed");
    at_mutex_unlock(&table);
    AT_END;
}

static at_frame *refresh(cache_state *s) { return AT_START(s, refresh); }

typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
} lookup_state;

AT_ASYNC_FN(lookup, lookup_state)
{
    AT_BEGIN(lookup_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &table));
    at_mutex_unlock(&table);
    AT_END;
}

static at_frame *lookup(lookup_state *s) { return AT_START(s, lookup); }

typedef struct {
    AT_FRAME;
    at_join_handle cache, lookup;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->cache = AT_SPAWN(NULL, "cache", cache_state, refresh);
    self->lookup = AT_SPAWN(NULL, "lookup", lookup_state, lookup);
    SCN_CHECK(self->cache.task && self->lookup.task);
    AT_AWAIT(at_join(&self->join, self->lookup));
    AT_END;
}

int main(void)
{
    SCN_CHECK(pipe(pipe_fds) == 0);
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    at_mutex_init(&table);
    scn_checkpoint_hung(1);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
