/* 28_all_workers_blocked - the only worker of a multi-thread runtime is
 * blocked in a system call inside a poll, and runnable tasks starve.
 *
 * One worker (one thread line: the expect file does not depend on which
 * worker a task lands on).  "reader" (task 2) spawns "starved-1" and
 * "starved-2" (tasks 3 and 4: scheduled, and no worker is left to poll
 * them), then blocks in read() on a pipe inside its poll.  main (task 1)
 * joins the reader.  info async-diagnose names the blocked thread and its
 * line, that every worker of runtime 1 is stuck, and the runnable tasks
 * that starve.  No live dump (offline). */
#include <unistd.h>

#include "scenario.h"
#include "starved_task.h"

static int pipe_fds[2];

typedef struct {
    AT_FRAME;
    char byte;
    at_join_handle s1, s2;
} reader_state;

/* The bug on show: a blocking read inside a poll, on the only worker. */
AT_ASYNC_FN(reader, reader_state)
{
    AT_BEGIN(reader_state);
    self->s1 = AT_SPAWN(NULL, "starved-1", starved_state, starved);
    self->s2 = AT_SPAWN(NULL, "starved-2", starved_state, starved);
    SCN_CHECK(self->s1.task && self->s2.task);
    scn_hang_mark();
    if (read(pipe_fds[0], &self->byte, 1) < 0) /* @native:reader */
        scn_fail("read failed");
    AT_END;
}

static at_frame *reader(reader_state *s) { return AT_START(s, reader); }

typedef struct {
    AT_FRAME;
    at_join_handle r;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->r = AT_SPAWN(NULL, "reader", reader_state, reader);
    SCN_CHECK(self->r.task);
    AT_AWAIT(at_join(&self->join, self->r));
    AT_END;
}

int main(void)
{
    SCN_CHECK(pipe(pipe_fds) == 0);
    at_runtime *rt = scn_runtime(1, 1);
    static main_state st;
    scn_allow_scheduled();
    scn_checkpoint_hung(1);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
