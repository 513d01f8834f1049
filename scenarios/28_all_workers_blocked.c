/* 28_all_workers_blocked - every worker of a multi-thread runtime is
 * blocked in a system call inside a poll, and runnable tasks starve.
 *
 * Two workers.  "reader-a" (task 2) blocks in read() on a pipe inside its
 * poll; "reader-b" (task 3) waits until reader-a is about to, spawns
 * "starved-1" and "starved-2" (tasks 4 and 5: scheduled, and no worker is
 * left to poll them), then blocks in read() too.  main (task 1) joins
 * reader-a.  info async-diagnose names both blocked threads and their
 * lines, that every worker of runtime 1 is stuck, and the runnable tasks
 * that starve.  No live dump (offline). */
#include <unistd.h>

#include "scenario.h"
#include "starved_task.h"

static int pipe_fds[2];
static int a_blocking;

typedef struct {
    AT_FRAME;
    char byte;
} reader_a_state;

/* The bug on show: blocking reads inside polls, one per worker. */
AT_ASYNC_FN(read_a, reader_a_state)
{
    AT_BEGIN(reader_a_state);
    __atomic_store_n(&a_blocking, 1, __ATOMIC_RELEASE);
    if (read(pipe_fds[0], &self->byte, 1) < 0) /* @native:read_a */
        scn_fail("read failed");
    AT_END;
}

static at_frame *read_a(reader_a_state *s) { return AT_START(s, read_a); }

static int a_is_blocking(void *arg)
{
    (void)arg;
    return __atomic_load_n(&a_blocking, __ATOMIC_ACQUIRE);
}

typedef struct {
    AT_FRAME;
    char byte;
    at_join_handle s1, s2;
    scn_until_state until;
} reader_b_state;

AT_ASYNC_FN(read_b, reader_b_state)
{
    AT_BEGIN(reader_b_state);
    AT_AWAIT(scn_until(&self->until, a_is_blocking, NULL));
    self->s1 = AT_SPAWN(NULL, "starved-1", starved_state, starved);
    self->s2 = AT_SPAWN(NULL, "starved-2", starved_state, starved);
    SCN_CHECK(self->s1.task && self->s2.task);
    scn_hang_mark();
    if (read(pipe_fds[0], &self->byte, 1) < 0) /* @native:read_b */
        scn_fail("read failed");
    AT_END;
}

static at_frame *read_b(reader_b_state *s) { return AT_START(s, read_b); }

typedef struct {
    AT_FRAME;
    at_join_handle a, b;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->a = AT_SPAWN(NULL, "reader-a", reader_a_state, read_a);
    self->b = AT_SPAWN(NULL, "reader-b", reader_b_state, read_b);
    SCN_CHECK(self->a.task && self->b.task);
    AT_AWAIT(at_join(&self->join, self->a));
    AT_END;
}

int main(void)
{
    SCN_CHECK(pipe(pipe_fds) == 0);
    at_runtime *rt = scn_runtime(1, 2);
    static main_state st;
    scn_allow_scheduled();
    scn_checkpoint_hung(1);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
