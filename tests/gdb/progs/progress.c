/* progress.c - test program of `asynctrace diff` and `ps --watch`: some
 * tasks make progress, others are stuck for good.
 *
 * Task ids: 1 main (holds the mutex `gate`, waits for "go"), 2 and 3
 * "ticker" (sleep 10 ms in a loop: polled about 100 times a second), 4
 * "stuck" (waits for the notify `go`), 5 "blocked" (waits for `gate`).
 * After "go" on stdin the tickers stop, every task finishes, the program
 * prints "done" and exits 0.
 */
#include "common.h"

static at_runtime *rt;
static at_mutex gate;
static at_notify go;
static int stop;

typedef struct {
    AT_FRAME;
    at_sleep_fut sleep;
} ticker_state;

AT_ASYNC_FN(ticker, ticker_state)
{
    AT_BEGIN(ticker_state);
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        AT_AWAIT(at_sleep(&self->sleep, 10 * AT_MS)); /* @await:ticker */
    }
    AT_END;
}
static at_frame *ticker(ticker_state *s) { return AT_START(s, ticker); }

typedef struct {
    AT_FRAME;
    at_notify_wait_fut wait;
} stuck_state;

AT_ASYNC_FN(stuck, stuck_state)
{
    AT_BEGIN(stuck_state);
    AT_AWAIT(at_notify_wait(&self->wait, &go)); /* @await:stuck */
    AT_END;
}
static at_frame *stuck(stuck_state *s) { return AT_START(s, stuck); }

typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
} blocked_state;

AT_ASYNC_FN(blocked, blocked_state)
{
    AT_BEGIN(blocked_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &gate)); /* @await:blocked */
    at_mutex_unlock(&gate);
    AT_END;
}
static at_frame *blocked(blocked_state *s) { return AT_START(s, blocked); }

typedef struct {
    AT_FRAME;
    at_join_handle h[4];
    int i;
    at_mutex_lock_fut lock;
    at_notify_wait_fut wait;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &gate));
    self->h[0] = AT_SPAWN(NULL, "ticker", ticker_state, ticker);
    self->h[1] = AT_SPAWN(NULL, "ticker", ticker_state, ticker);
    self->h[2] = AT_SPAWN(NULL, "stuck", stuck_state, stuck);
    self->h[3] = AT_SPAWN(NULL, "blocked", blocked_state, blocked);
    checkpoint_settled();
    AT_AWAIT(at_notify_wait(&self->wait, &go)); /* @await:main */
    at_mutex_unlock(&gate);
    for (self->i = 0; self->i < 4; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}
static at_frame *main_task(main_state *s) { return AT_START(s, main_task); }

static void release(void)
{
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    at_notify_all(&go);
}

int main(void)
{
    main_state st;
    rt = at_runtime_new(NULL);
    if (!rt)
        return 2;
    at_mutex_init(&gate);
    at_notify_init(&go);
    checkpoint_start(release, 0);
    int rc = at_block_on(rt, main_task(&st), "main");
    checkpoint_finish();
    at_runtime_free(rt);
    return rc == 0 ? 0 : 1;
}
