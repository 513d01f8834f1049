/* hello.c - the README's example: two tasks share a counter behind an
 * async mutex; main waits for both. */
#include <stdio.h>
#include "asynctrace.h"

static at_mutex lock;
static int counter;

typedef struct {
    AT_FRAME;
    int rounds, i;
    union { at_mutex_lock_fut lock; at_sleep_fut nap; } aw;
} worker_state;

AT_ASYNC_FN(worker, worker_state)
{
    AT_BEGIN(worker_state);
    for (self->i = 0; self->i < self->rounds; self->i++) {
        AT_AWAIT(at_mutex_lock(&self->aw.lock, &lock));
        counter++;
        AT_AWAIT(at_sleep(&self->aw.nap, 1 * AT_MS)); /* holds the lock across an await */
        at_mutex_unlock(&lock);
    }
    AT_END;
}
static at_frame *worker(worker_state *s, int rounds) { s->rounds = rounds; return AT_START(s, worker); }

typedef struct {
    AT_FRAME;
    at_join_handle a, b;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->a = AT_SPAWN(NULL, "worker-a", worker_state, worker, 5);
    self->b = AT_SPAWN(NULL, "worker-b", worker_state, worker, 5);
    AT_AWAIT(at_join(&self->join, self->a));
    AT_AWAIT(at_join(&self->join, self->b));
    at_join_handle_release(&self->a);
    at_join_handle_release(&self->b);
    AT_END;
}

int main(void)
{
    at_mutex_init(&lock);
    at_runtime *rt = at_runtime_new(NULL);
    main_state st;
    int r = at_block_on(rt, AT_START(&st, main_task), "main");
    at_runtime_free(rt);
    printf("counter = %d (%s)\n", counter, r == 0 ? "ok" : "failed");
    return r;
}
