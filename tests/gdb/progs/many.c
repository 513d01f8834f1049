/* many.c - GDB test program: 1,500 tasks in five await shapes, so that most
 * tasks repeat a shape already seen (the walker's cached fast path) and the
 * document is large enough to be streamed compactly.
 *
 * Task 1 is main (it holds the mutex); task 2 + i has shape i % 5:
 *   0: outer3 -> mid3 -> inner3 -> at_sleep (an hour, aborted after "go")
 *   1: mid_lock -> inner_lock -> at_mutex_lock (held by main)
 *   2: at_notify_wait directly under the task's own function
 *   3: at_join_all of legs (at_notify_wait) and (at_sleep)
 *   4: four levels -> at_chan_recv on an unbounded channel
 * After "go" everything finishes and the program exits 0.
 * AT_TEST_TASKS=N (at most MAX_N) makes N tasks instead of 1,500.
 */
#include "common.h"

#define MAX_N 100000
static int N = 1500;

static at_mutex lock;
static at_notify go;
static at_chan *chan;

typedef struct {
    AT_FRAME;
    int kind;
    int msg;
    union {
        at_sleep_fut sleep;
        at_mutex_lock_fut lock;
        at_notify_wait_fut wait;
        at_chan_recv_fut recv;
    } u;
} leaf_state;

AT_ASYNC_FN(bottom, leaf_state)
{
    AT_BEGIN(leaf_state);
    switch (self->kind) {
    case 0:
        AT_AWAIT(at_sleep(&self->u.sleep, 3600 * AT_SEC));
        break;
    case 1:
        AT_AWAIT(at_mutex_lock(&self->u.lock, &lock));
        at_mutex_unlock(&lock);
        break;
    case 2:
        AT_AWAIT(at_notify_wait(&self->u.wait, &go));
        break;
    default:
        AT_AWAIT(at_chan_recv(&self->u.recv, chan, &self->msg));
        break;
    }
    AT_END;
}
static at_frame *bottom(leaf_state *s, int kind)
{
    s->kind = kind;
    return AT_START(s, bottom);
}

/* level(depth): awaits level(depth - 1), down to bottom. */
typedef struct level_state level_state;
struct level_state {
    AT_FRAME;
    int depth, kind;
    union {
        level_state *next;
        leaf_state *leaf;
    } u;
};

AT_ASYNC_FN(level, level_state)
{
    AT_BEGIN(level_state);
    if (self->depth > 1) {
        AT_AWAIT(&self->u.next->at_frame);
    } else {
        AT_AWAIT(bottom(self->u.leaf, self->kind));
    }
    AT_END;
}

/* A task's whole chain lives in one state: `depth` levels and a leaf. */
typedef struct {
    AT_FRAME;
    int kind, depth;
    level_state levels[4];
    leaf_state leaf;
    at_join_all_fut all;
    at_frame *kids[2];
    at_notify_wait_fut wait;
    at_sleep_fut sleep;
} shape_state;

static at_frame *level_chain(shape_state *s)
{
    for (int i = 0; i < s->depth; i++) {
        level_state *l = &s->levels[i];
        l->depth = s->depth - i;
        l->kind = s->kind;
        if (l->depth > 1)
            l->u.next = &s->levels[i + 1];
        else
            l->u.leaf = &s->leaf;
        AT_START(l, level);
    }
    return &s->levels[0].at_frame;
}

AT_ASYNC_FN(shaped, shape_state)
{
    AT_BEGIN(shape_state);
    if (self->kind == 3) {
        self->kids[0] = at_notify_wait(&self->wait, &go);
        self->kids[1] = at_sleep(&self->sleep, 3600 * AT_SEC);
        AT_AWAIT(at_join_all(&self->all, self->kids, 2));
    } else if (self->kind == 2) {
        AT_AWAIT(at_notify_wait(&self->wait, &go));
    } else {
        AT_AWAIT(level_chain(self));
    }
    AT_END;
}
static at_frame *shaped(shape_state *s, int kind)
{
    static const int depths[5] = {3, 2, 0, 0, 4};
    s->kind = kind;
    s->depth = depths[kind];
    return AT_START(s, shaped);
}

typedef struct {
    AT_FRAME;
    at_join_handle *h;
    int i, msg;
    at_notify_wait_fut wait;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    at_mutex_try_lock(&lock);
    for (self->i = 0; self->i < N; self->i++)
        self->h[self->i] = AT_SPAWN(NULL, "shaped", shape_state, shaped, self->i % 5);
    checkpoint_settled();
    AT_AWAIT(at_notify_wait(&self->wait, &go));
    at_mutex_unlock(&lock);
    for (self->i = 0; self->i < N; self->i++) {
        if (self->i % 5 == 0 || self->i % 5 == 3)
            at_task_abort(self->h[self->i]);
        if (self->i % 5 == 4) {
            self->msg = self->i;
            at_chan_try_send(chan, &self->msg);
        }
    }
    for (self->i = 0; self->i < N; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}
static at_frame *main_task(main_state *s) { return AT_START(s, main_task); }

static void release(void) { at_notify_all(&go); }

int main(void)
{
    static at_join_handle handles[MAX_N];
    main_state st = {.h = handles};
    const char *n = getenv("AT_TEST_TASKS");
    if (n && atoi(n) > 0 && atoi(n) <= MAX_N)
        N = atoi(n);
    int err = 0;
    at_runtime *rt = at_runtime_new(NULL);
    at_mutex_init(&lock);
    at_notify_init(&go);
    chan = at_chan_new_unbounded(sizeof(int), &err);
    if (!rt || !chan)
        return 2;
    checkpoint_start(release, 0);
    int rc = at_block_on(rt, main_task(&st), "main");
    checkpoint_finish();
    at_runtime_free(rt);
    return rc == 0 ? 0 : 1;
}
