/* 07_blocking_read - a task calls a blocking read() on a pipe inside its
 * poll and stalls its runtime's thread.
 *
 * "ticker" (task 2) sleeps; "reader" (task 3) blocks in read(); main joins
 * the reader.  The runtime cannot serve a live dump: the checkpoint is
 * taken once the thread sleeps in the read system call (offline only).
 * The offline dumps must show the reader running on the thread, its native
 * frames from read() down to at_root_poll.  Also built as
 * 14_mt_blocking_read (SCN_MT). */
#include <unistd.h>

#include "scenario.h"

#ifndef SCN_MT
#define SCN_MT 0
#endif

static int pipe_fds[2];

typedef struct {
    AT_FRAME;
    at_sleep_fut nap;
} ticker_state;

AT_ASYNC_FN(ticker, ticker_state)
{
    AT_BEGIN(ticker_state);
    AT_AWAIT(at_sleep(&self->nap, 3600 * AT_SEC));
    AT_END;
}

static at_frame *ticker(ticker_state *s) { return AT_START(s, ticker); }

typedef struct {
    AT_FRAME;
    char byte;
} reader_state;

/* The bug on show: a blocking call inside a poll. */
AT_ASYNC_FN(reader, reader_state)
{
    AT_BEGIN(reader_state);
    scn_hang_mark();
    if (read(pipe_fds[0], &self->byte, 1) < 0)
        scn_fail("read failed");
    AT_END;
}

static at_frame *reader(reader_state *s) { return AT_START(s, reader); }

typedef struct {
    AT_FRAME;
    at_join_handle tick, read;
    union {
        at_yield_fut yield;
        at_join_fut join;
    } aw;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->tick = AT_SPAWN(NULL, "ticker", ticker_state, ticker);
    SCN_CHECK(self->tick.task);
    AT_AWAIT(at_yield(&self->aw.yield)); /* the ticker goes to sleep first */
    self->read = AT_SPAWN(NULL, "reader", reader_state, reader);
    SCN_CHECK(self->read.task);
    AT_AWAIT(at_join(&self->aw.join, self->read));
    AT_END;
}

int main(void)
{
    SCN_CHECK(pipe(pipe_fds) == 0);
    at_runtime *rt = scn_runtime(SCN_MT, 2);
    static main_state st;
    scn_checkpoint_hung(1);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
