/* mt.c - GDB test program: a multi-thread runtime with 2 workers, one of
 * them stuck inside a task's poll (a blocking read), the other idle.
 *
 * Task ids: 1 main (block_on from the main thread, runs on the workers),
 * 2 spinner (its poll blocks in read() on a pipe: running on a worker),
 * 3 holder (holds the mutex, waits for "go"), 4 locker (waits for the
 * mutex), 5 sleeper (an hour's sleep, aborted after "go").
 * After "go" everything finishes and the program exits 0.
 */
#include "common.h"

static at_runtime *rt;
static at_mutex lock;
static at_notify go;
static int pipe_fds[2];

__attribute__((noinline)) static int block_in_read(void)
{
    char c;
    return (int)read(pipe_fds[0], &c, 1); /* @native:block_in_read */
}

typedef struct {
    AT_FRAME;
    int got;
} spinner_state;

AT_ASYNC_FN(spinner, spinner_state) /* @site:spinner */
{
    AT_BEGIN(spinner_state);
    self->got = block_in_read(); /* @native:spinner */
    AT_END;
}
static at_frame *spinner(spinner_state *s) { return AT_START(s, spinner); }

typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
    at_notify_wait_fut wait;
} holder_state;

AT_ASYNC_FN(holder, holder_state)
{
    AT_BEGIN(holder_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &lock));
    AT_AWAIT(at_notify_wait(&self->wait, &go)); /* @await:holder */
    at_mutex_unlock(&lock);
    AT_END;
}
static at_frame *holder(holder_state *s) { return AT_START(s, holder); }

typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
} locker_state;

AT_ASYNC_FN(locker, locker_state)
{
    AT_BEGIN(locker_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &lock)); /* @await:locker */
    at_mutex_unlock(&lock);
    AT_END;
}
static at_frame *locker(locker_state *s) { return AT_START(s, locker); }

typedef struct {
    AT_FRAME;
    at_sleep_fut sleep;
} sleeper_state;

AT_ASYNC_FN(sleeper, sleeper_state)
{
    AT_BEGIN(sleeper_state);
    AT_AWAIT(at_sleep(&self->sleep, 3600 * AT_SEC)); /* @await:sleeper */
    AT_END;
}
static at_frame *sleeper(sleeper_state *s) { return AT_START(s, sleeper); }

typedef struct {
    AT_FRAME;
    at_join_handle h[4];
    int i;
    at_yield_fut y;
    at_notify_wait_fut wait;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->h[0] = AT_SPAWN(NULL, "spinner", spinner_state, spinner);
    self->h[1] = AT_SPAWN(NULL, "holder", holder_state, holder);
    /* The holder takes the lock before the locker asks for it. */
    for (self->i = 0; self->i < 50 && !lock.locked; self->i++)
        AT_AWAIT(at_yield(&self->y));
    self->h[2] = AT_SPAWN(NULL, "locker", locker_state, locker);
    self->h[3] = AT_SPAWN(NULL, "sleeper", sleeper_state, sleeper);
    checkpoint_settled();
    AT_AWAIT(at_notify_wait(&self->wait, &go)); /* @await:main_task */
    at_task_abort(self->h[3]);
    for (self->i = 0; self->i < 4; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}
static at_frame *main_task(main_state *s) { return AT_START(s, main_task); }

static void release(void)
{
    at_notify_all(&go);
    if (write(pipe_fds[1], "x", 1) != 1)
        perror("write");
}

int main(void)
{
    main_state st;
    at_runtime_options opts = {AT_FLAVOR_MULTI_THREAD, 2, "mt"};
    if (pipe(pipe_fds) != 0)
        return 2;
    rt = at_runtime_new(&opts);
    if (!rt)
        return 2;
    at_mutex_init(&lock);
    at_notify_init(&go);
    checkpoint_start(release, 1);
    int rc = at_block_on(rt, main_task(&st), "main"); /* @spawn:main */
    checkpoint_finish();
    at_runtime_free(rt);
    return rc == 0 ? 0 : 1;
}
