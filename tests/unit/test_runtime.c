/* test_runtime.c - the core: tasks, spawn/join/abort/detach, block_on,
 * timers, yield, timeouts, await frames and the snapshot walker. */
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "asynctrace.h"
#include "core/runtime_state.h" /* white-box checks of private state */
#include "cunit_main.h"

/* ---- A leaf chain: f1 -> f2 -> f3 -> sleep ---- */

typedef struct {
    AT_FRAME;
    uint64_t ns;
    at_sleep_fut sleep;
} f3_state;

AT_ASYNC_FN(f3, f3_state)
{
    AT_BEGIN(f3_state);
    AT_AWAIT(at_sleep(&self->sleep, self->ns)); /* F3_LINE */
    AT_END;
}
#define F3_LINE 24
static at_frame *f3(f3_state *s, uint64_t ns) { s->ns = ns; return AT_START(s, f3); }

typedef struct {
    AT_FRAME;
    uint64_t ns;
    f3_state child;
} f2_state;

AT_ASYNC_FN(f2, f2_state)
{
    AT_BEGIN(f2_state);
    AT_AWAIT(f3(&self->child, self->ns)); /* F2_LINE */
    AT_END;
}
#define F2_LINE 39
static at_frame *f2(f2_state *s, uint64_t ns) { s->ns = ns; return AT_START(s, f2); }

typedef struct {
    AT_FRAME;
    uint64_t ns;
    int done;
    f2_state child;
} f1_state;

AT_ASYNC_FN(f1, f1_state)
{
    AT_BEGIN(f1_state);
    AT_AWAIT(f2(&self->child, self->ns)); /* F1_LINE */
    self->done = 1;
    AT_END;
}
#define F1_LINE 55
static at_frame *f1(f1_state *s, uint64_t ns) { s->ns = ns; s->done = 0; return AT_START(s, f1); }

/* ---- A test driver task that runs a callback between steps ---- */

typedef struct {
    AT_FRAME;
    int step;
    at_join_handle h[4];
    union {
        at_join_fut join;
        at_yield_fut yield;
        at_sleep_fut sleep;
        at_timeout_fut timeout;
    } aw;
    f3_state inner;
    int results[4];
    at_dump *snap;
    uint64_t t0;
} driver_state;

/* Spawn a sleeper 3 deep, yield so it suspends, snapshot, then join it. */
AT_ASYNC_FN(snapshot_driver, driver_state)
{
    AT_BEGIN(driver_state);
    self->h[0] = AT_SPAWN(NULL, "sleeper", f1_state, f1, 30 * AT_MS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(self->h[0].task);
    AT_AWAIT(at_yield(&self->aw.yield));
    self->snap = at_snapshot_take();
    AT_AWAIT(at_join(&self->aw.join, self->h[0]));
    self->results[0] = self->aw.join.status;
    self->results[1] = ((f1_state *)at_join_handle_state(self->h[0]))->done;
    at_join_handle_release(&self->h[0]);
    AT_END;
}
static at_frame *snapshot_driver(driver_state *s) { memset(s, 0, sizeof *s); return AT_START(s, snapshot_driver); }

static const at_dump_task *find_named(const at_dump *d, const char *name)
{
    for (size_t r = 0; r < d->nruntimes; r++)
        for (size_t i = 0; i < d->runtimes[r].ntasks; i++)
            if (!strcmp(d->runtimes[r].tasks[i].name, name))
                return &d->runtimes[r].tasks[i];
    return NULL;
}

AT_TEST(snapshot_shows_three_deep_sleep_chain)
{
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    driver_state st;
    AT_ASSERT_EQ_INT(at_block_on(rt, snapshot_driver(&st), "driver"), 0);
    AT_ASSERT_EQ_INT(st.results[0], 0);
    AT_ASSERT_EQ_INT(st.results[1], 1);

    at_dump *d = st.snap;
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    AT_ASSERT_EQ_U64(d->nerrors, 0);
    const at_dump_task *drv = find_named(d, "driver");
    const at_dump_task *t = find_named(d, "sleeper");
    CU_ASSERT_PTR_NOT_NULL_FATAL(drv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    AT_ASSERT_EQ_INT(drv->state, AT_TASK_RUNNING);
    AT_ASSERT_EQ_U64(t->id, drv->id + 1);
    AT_ASSERT_EQ_U64(t->parent_id, drv->id);
    AT_ASSERT_EQ_INT(t->state, AT_TASK_IDLE);
    AT_ASSERT_EQ_U64(t->polls, 1);
    AT_ASSERT_EQ_STR(t->spawn_function, "snapshot_driver_poll");
    AT_ASSERT_EQ_INT(t->spawn_kind, AT_KIND_SPAWN);
    AT_ASSERT_EQ_STR(drv->spawn_function, "snapshot_shows_three_deep_sleep_chain");
    AT_ASSERT_EQ_INT(drv->spawn_kind, AT_KIND_BLOCK_ON);
    /* The chain: f1 (line) -> f2 -> f3 -> at_sleep leaf. */
    const at_dump_frame *f = t->await;
    const char *names[] = {"f1", "f2", "f3", "at_sleep"};
    const unsigned lines[] = {F1_LINE, F2_LINE, F3_LINE, 0};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        AT_ASSERT_EQ_STR(f->function, names[i]);
        if (lines[i])
            AT_ASSERT_EQ_U64(f->line, lines[i]);
        CU_ASSERT_PTR_NULL(f->error);
        if (i < 3) {
            AT_ASSERT_EQ_INT(f->kind, AT_KIND_ASYNC);
            AT_ASSERT_EQ_U64(f->nchildren, 1);
            f = &f->children[0];
        }
    }
    AT_ASSERT_EQ_INT(f->kind, AT_KIND_LEAF);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->resource);
    AT_ASSERT_EQ_INT(f->resource->kind, AT_RES_SLEEP);
    CU_ASSERT_TRUE(f->resource->since_ns > 0);
    CU_ASSERT_TRUE(f->resource->detail[0] > f->resource->since_ns);
    AT_ASSERT_EQ_U64(f->nchildren, 0);
    /* The snapshot thread list names this thread polling the driver. */
    AT_ASSERT_EQ_U64(drv->thread != 0, 1);
    at_dump_free(d);
    at_runtime_free(rt);
}

/* ---- Spawn / join / abort / detach ---- */

typedef struct {
    AT_FRAME;
    int *counter;
    int value;
    at_yield_fut y;
} bump_state;

AT_ASYNC_FN(bump, bump_state)
{
    AT_BEGIN(bump_state);
    AT_AWAIT(at_yield(&self->y));
    (*self->counter)++;
    self->value = 7;
    AT_END;
}
static at_frame *bump(bump_state *s, int *counter) { s->counter = counter; return AT_START(s, bump); }

typedef struct {
    AT_FRAME;
    int counter;
    int i;
    at_join_handle h[3];
    at_join_fut join;
    int status[4];
    f1_state *never;
} spawn_driver_state;

AT_ASYNC_FN(spawn_driver, spawn_driver_state)
{
    AT_BEGIN(spawn_driver_state);
    self->h[0] = AT_SPAWN(NULL, "bump-a", bump_state, bump, &self->counter);
    self->h[1] = AT_SPAWN(NULL, "long-sleeper", f1_state, f1, 60 * AT_SEC);
    self->h[2] = AT_SPAWN(NULL, "bump-detached", bump_state, bump, &self->counter);
    at_task_detach(&self->h[2]);
    AT_AWAIT(at_join(&self->join, self->h[0]));
    self->status[0] = self->join.status;
    /* Joining the same task again is an error, not a hang. */
    AT_AWAIT(at_join(&self->join, self->h[0]));
    self->status[1] = self->join.status;
    at_task_abort(self->h[1]);
    AT_AWAIT(at_join(&self->join, self->h[1]));
    self->status[2] = self->join.status;
    self->status[3] = (int)atomic_load(&self->h[1].task->state);
    at_join_handle_release(&self->h[0]);
    at_join_handle_release(&self->h[1]);
    AT_END;
}
static at_frame *spawn_driver(spawn_driver_state *s) { memset(s, 0, sizeof *s); return AT_START(s, spawn_driver); }

AT_TEST(spawn_join_abort_detach)
{
    at_runtime *rt = at_runtime_new(NULL);
    spawn_driver_state st;
    uint64_t t0 = at_now_ns();
    AT_ASSERT_EQ_INT(at_block_on(rt, spawn_driver(&st), "driver"), 0);
    CU_ASSERT_TRUE(at_now_ns() - t0 < 10 * AT_SEC); /* the abort did not wait 60 s */
    AT_ASSERT_EQ_INT(st.counter, 2);
    AT_ASSERT_EQ_INT(st.status[0], 0);
    AT_ASSERT_EQ_INT(st.status[1], AT_EINVAL);
    AT_ASSERT_EQ_INT(st.status[2], AT_ECANCELED);
    AT_ASSERT_EQ_INT(st.status[3], AT_TASK_CANCELLED);
    /* Everything was freed: no task left in the owned list. */
    AT_ASSERT_EQ_U64(rt->task_count, 0);
    at_runtime_free(rt);
}

AT_TEST(spawn_on_shut_down_runtime_fails_cleanly)
{
    at_runtime *rt = at_runtime_new(NULL);
    int counter = 0;
    at_join_handle h = AT_SPAWN(rt, "before", bump_state, bump, &counter);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h.task);
    AT_ASSERT_EQ_INT(atomic_load(&h.task->state), AT_TASK_SCHEDULED);
    at_runtime_free(rt); /* cancels the task; the handle keeps it readable */
    AT_ASSERT_EQ_INT(atomic_load(&h.task->state), AT_TASK_CANCELLED);
    AT_ASSERT_EQ_INT(h.task->result, AT_ECANCELED);
    at_join_handle_release(&h);
    AT_ASSERT_EQ_INT(counter, 0);
}

AT_TEST(spawn_and_block_on_after_shutdown_are_refused)
{
    at_runtime *rt = at_runtime_new(NULL);
    int counter = 0;
    at_join_handle before = AT_SPAWN(rt, "before", bump_state, bump, &counter);
    CU_ASSERT_PTR_NOT_NULL_FATAL(before.task);
    AT_ASSERT_EQ_INT(at_runtime_shutdown(rt), 0);
    AT_ASSERT_EQ_INT(atomic_load(&before.task->state), AT_TASK_CANCELLED);
    /* Spawning now fails cleanly: an empty handle, nothing allocated. */
    at_join_handle after = AT_SPAWN(rt, "after", bump_state, bump, &counter);
    CU_ASSERT_PTR_NULL(after.task);
    AT_ASSERT_EQ_U64(at_join_handle_id(after), 0);
    at_join_handle_release(&after); /* harmless on an empty handle */
    bump_state st;
    AT_ASSERT_EQ_INT(at_block_on(rt, bump(&st, &counter), "late"), AT_ESHUTDOWN);
    AT_ASSERT_EQ_INT(at_runtime_shutdown(rt), 0); /* again: a no-op */
    AT_ASSERT_EQ_INT(at_runtime_shutdown(NULL), AT_EINVAL);
    /* Still listed for debuggers until freed, with the cancelled task. */
    at_dump *d = at_snapshot_take();
    const at_dump_task *t = at_dump_find_task(d, before.task->id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    AT_ASSERT_EQ_INT(t->state, AT_TASK_CANCELLED);
    at_dump_free(d);
    at_join_handle_release(&before);
    AT_ASSERT_EQ_U64(rt->task_count, 0);
    at_runtime_free(rt);
    AT_ASSERT_EQ_INT(counter, 0);
}

AT_TEST(block_on_reentrant_and_bad_arguments)
{
    AT_ASSERT_EQ_INT(at_block_on(NULL, NULL, "x"), AT_EINVAL);
    at_runtime *rt = at_runtime_new(NULL);
    AT_ASSERT_EQ_INT(at_block_on(rt, NULL, "x"), AT_EINVAL);
    at_runtime_free(rt);
    at_runtime_options mt = {.flavor = (at_flavor)99};
    CU_ASSERT_PTR_NULL(at_runtime_new(&mt));
}

/* ---- Timers ---- */

typedef struct {
    AT_FRAME;
    at_timeout_fut to;
    f3_state slow;
    f3_state fast;
    int status[2];
    uint64_t elapsed[2];
    uint64_t t0;
} timeout_state;

AT_ASYNC_FN(timeout_driver, timeout_state)
{
    AT_BEGIN(timeout_state);
    self->t0 = at_now_ns();
    AT_AWAIT(at_timeout(&self->to, f3(&self->slow, 10 * AT_SEC), 20 * AT_MS));
    self->status[0] = self->to.status;
    self->elapsed[0] = at_now_ns() - self->t0;
    self->t0 = at_now_ns();
    AT_AWAIT(at_timeout(&self->to, f3(&self->fast, 5 * AT_MS), 10 * AT_SEC));
    self->status[1] = self->to.status;
    self->elapsed[1] = at_now_ns() - self->t0;
    AT_END;
}
static at_frame *timeout_driver(timeout_state *s) { memset(s, 0, sizeof *s); return AT_START(s, timeout_driver); }

AT_TEST(timeout_fires_and_inner_wins)
{
    at_runtime *rt = at_runtime_new(NULL);
    timeout_state st;
    AT_ASSERT_EQ_INT(at_block_on(rt, timeout_driver(&st), "timeouts"), 0);
    AT_ASSERT_EQ_INT(st.status[0], AT_ETIMEDOUT);
    CU_ASSERT_TRUE(st.elapsed[0] >= 20 * AT_MS && st.elapsed[0] < 5 * AT_SEC);
    AT_ASSERT_EQ_INT(st.status[1], 0);
    CU_ASSERT_TRUE(st.elapsed[1] >= 5 * AT_MS && st.elapsed[1] < 5 * AT_SEC);
    /* The dropped 10 s timers are gone from the heap. */
    AT_ASSERT_EQ_U64(at__rt(rt)->timers.len, 0);
    at_runtime_free(rt);
}

/* Many sleepers with shuffled deadlines wake in deadline order.  The
 * deadlines are absolute, from one base taken before the first spawn and
 * far enough ahead that every sleeper is waiting before the first one is
 * due, so the order does not depend on when each sleeper was first polled. */
typedef struct {
    AT_FRAME;
    int idx;
    int *order;
    int *pos;
    uint64_t base;
    at_sleep_fut s;
} ordered_sleep_state;

AT_ASYNC_FN(ordered_sleep, ordered_sleep_state)
{
    AT_BEGIN(ordered_sleep_state);
    AT_AWAIT(at_sleep_until(&self->s, self->base + (uint64_t)(self->idx + 1) * 2 * AT_MS));
    self->order[(*self->pos)++] = self->idx;
    AT_END;
}
static at_frame *ordered_sleep(ordered_sleep_state *s, int idx, int *order, int *pos,
                               uint64_t base)
{
    s->idx = idx;
    s->order = order;
    s->pos = pos;
    s->base = base;
    return AT_START(s, ordered_sleep);
}

typedef struct {
    AT_FRAME;
    int order[50];
    int pos;
    int i;
    uint64_t base;
    at_join_handle h[50];
    at_join_fut j;
} sleep_many_state;

AT_ASYNC_FN(sleep_many, sleep_many_state)
{
    AT_BEGIN(sleep_many_state);
    self->base = at_now_ns() + 200 * AT_MS;
    for (self->i = 0; self->i < 50; self->i++) {
        int idx = (self->i * 17) % 50; /* a permutation of 0..49 */
        self->h[self->i] = AT_SPAWN(NULL, NULL, ordered_sleep_state, ordered_sleep, idx,
                                    self->order, &self->pos, self->base);
    }
    for (self->i = 0; self->i < 50; self->i++) {
        AT_AWAIT(at_join(&self->j, self->h[self->i]));
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}
static at_frame *sleep_many(sleep_many_state *s) { memset(s, 0, sizeof *s); return AT_START(s, sleep_many); }

AT_TEST(timers_fire_in_deadline_order)
{
    at_runtime *rt = at_runtime_new(NULL);
    sleep_many_state st;
    AT_ASSERT_EQ_INT(at_block_on(rt, sleep_many(&st), "sleep-many"), 0);
    AT_ASSERT_EQ_INT(st.pos, 50);
    for (int i = 0; i < 50; i++)
        AT_ASSERT_EQ_INT(st.order[i], i);
    at_runtime_free(rt);
}

/* ---- Wakes from another thread ---- */

typedef struct {
    AT_FRAME;
    _Atomic int stage;
    at_waker w;
    int polls;
} foreign_state;

/* A hand-written leaf-like future woken by a foreign thread. */
static at_poll_result foreign_wait_poll(at_frame *f, at_context *cx);
static const at_site foreign_site = {AT_SITE_MAGIC, AT_KIND_ASYNC, "foreign_wait", __FILE__,
                                     __LINE__, 0, foreign_wait_poll, NULL};
AT_NOINLINE static at_poll_result foreign_wait_poll(at_frame *f, at_context *cx)
{
    foreign_state *s = (foreign_state *)f;
    s->polls++;
    if (atomic_load(&s->stage) == 2)
        return AT_READY;
    if (!s->w.task) {
        s->w = at_waker_clone(cx);
        atomic_store(&s->stage, 1);
    }
    return AT_PENDING;
}

static void *foreign_waker(void *arg)
{
    foreign_state *s = arg;
    while (atomic_load(&s->stage) != 1)
        sched_yield();
    usleep(20000);
    atomic_store(&s->stage, 2);
    at_waker_wake(&s->w);
    return NULL;
}

AT_TEST(wake_from_foreign_thread)
{
    at_runtime *rt = at_runtime_new(NULL);
    foreign_state st;
    memset(&st, 0, sizeof st);
    at_frame_init(&st.at_frame, &foreign_site);
    pthread_t th;
    pthread_create(&th, NULL, foreign_waker, &st);
    AT_ASSERT_EQ_INT(at_block_on(rt, &st.at_frame, "foreign"), 0);
    pthread_join(th, NULL);
    AT_ASSERT_EQ_INT(st.polls, 2);
    at_runtime_free(rt);
}

/* ---- The ABI ---- */

AT_TEST(layout_table_matches_offsetof)
{
    const at_debug_descriptor *d = &asynctrace_debug;
    AT_ASSERT_EQ_INT(memcmp(d->magic, "ATDEBUG", 8), 0);
    AT_ASSERT_EQ_U64(d->abi_version, AT_ABI_VERSION);
    AT_ASSERT_EQ_U64(d->pointer_size, 8);
    AT_ASSERT_EQ_U64(d->descriptor_size, sizeof(at_debug_descriptor));
    int checked = 0;
#define CHECK_FIELD(rec, type, field, off_, size_)                               \
    do {                                                                       \
        int found = 0;                                                         \
        for (uint32_t i = 0; i < d->layout_count; i++) {                       \
            const at_layout_record *r = &d->layouts[i];                        \
            if (strcmp(r->name, #rec))                                         \
                continue;                                                      \
            AT_ASSERT_EQ_U64(r->size, sizeof(type));                           \
            for (uint32_t j = 0; j < r->field_count; j++)                      \
                if (!strcmp(r->fields[j].name, #field)) {                      \
                    AT_ASSERT_EQ_U64(r->fields[j].offset, offsetof(type, field)); \
                    AT_ASSERT_EQ_U64(r->fields[j].size, sizeof(((type *)0)->field)); \
                    found = 1;                                                 \
                }                                                              \
        }                                                                      \
        CU_ASSERT_TRUE(found);                                                 \
        checked++;                                                             \
    } while (0);
#define CHECK_RECORD(rec, type, list) list(CHECK_FIELD)
    AT_LAYOUT_RECORDS(CHECK_RECORD)
    CU_ASSERT_TRUE(checked > 90);
    /* Enum tables name every value. */
    AT_ASSERT_EQ_U64(d->enum_count, 5);
    AT_ASSERT_EQ_STR(d->enums[0].name, "task_state");
    AT_ASSERT_EQ_U64(d->enums[0].count, AT_TASK_STATE_COUNT);
    AT_ASSERT_EQ_STR(d->enums[0].names[AT_TASK_CANCELLED], "cancelled");
    AT_ASSERT_EQ_STR(d->enums[2].names[AT_RES_CHAN_RECV], "channel-recv");
    AT_ASSERT_EQ_STR(at_task_state_name(99), "?");
}

AT_TEST(snapshot_survives_bad_descriptors)
{
    /* A copy of the descriptor with a bad magic, a wrong version, and a
     * runtime list pointing at garbage: clear notes, no crash. */
    at_debug_descriptor bad = asynctrace_debug;
    bad.magic[0] = 'X';
    at_dump *d = at_snapshot_take_at(&bad);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    AT_ASSERT_EQ_U64(d->nerrors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(d->errors[0], "magic"));
    at_dump_free(d);

    bad = asynctrace_debug;
    bad.abi_version = 77;
    d = at_snapshot_take_at(&bad);
    CU_ASSERT_PTR_NOT_NULL(strstr(d->errors[0], "ABI version 77"));
    at_dump_free(d);

    bad = asynctrace_debug;
    bad.runtimes = (at_runtime *)(uintptr_t)0x10; /* unmapped */
    d = at_snapshot_take_at(&bad);
    AT_ASSERT_EQ_U64(d->nruntimes, 0);
    AT_ASSERT_EQ_U64(d->nerrors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(d->errors[0], "corrupt: runtime 0x10"));
    at_dump_free(d);

    /* A runtime whose task list loops: the walk stops and says so. */
    static at_task fake[2];
    static at_runtime rt;
    memset(fake, 0, sizeof fake);
    memset(&rt, 0, sizeof rt);
    rt.magic = AT_RUNTIME_MAGIC;
    rt.id = 99;
    rt.owned_head = &fake[0];
    for (int i = 0; i < 2; i++) {
        fake[i].magic = AT_TASK_MAGIC;
        fake[i].id = 1000 + i;
        fake[i].owned_next = &fake[(i + 1) % 2];
        fake[i].owned_prev = i ? &fake[0] : NULL;
        fake[i].spawn_site = (const at_site *)(uintptr_t)0x20; /* unreadable */
        fake[i].root = (at_frame *)(uintptr_t)0x30;           /* unreadable */
    }
    bad = asynctrace_debug;
    bad.runtimes = &rt;
    bad.threads = NULL;
    d = at_snapshot_take_at(&bad);
    AT_ASSERT_EQ_U64(d->nruntimes, 1);
    AT_ASSERT_EQ_U64(d->runtimes[0].ntasks, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(d->runtimes[0].error, "loops back"));
    AT_ASSERT_EQ_U64(d->runtimes[0].tasks[0].id, 1000);
    CU_ASSERT_PTR_NOT_NULL(strstr(d->runtimes[0].tasks[0].await->error, "corrupt: frame 0x30"));
    CU_ASSERT_PTR_NULL(d->runtimes[0].tasks[0].spawn_function);
    at_dump_free(d);
}

/* A list that loops after a tail, whatever the lengths: the walk without a
 * visited set sees the loop late (Brent), walks again with the set, and
 * reports exactly the task that comes back, after every task once. */
AT_TEST(snapshot_names_the_task_a_long_loop_comes_back_to)
{
    static const int shapes[][2] = {{0, 1}, {1, 1}, {3, 5}, {5, 3}, {40, 70}, {70, 40}};
    static at_task fake[110];
    static at_runtime rt;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int tail = shapes[s][0], n = tail + shapes[s][1];
        memset(fake, 0, sizeof fake);
        memset(&rt, 0, sizeof rt);
        rt.magic = AT_RUNTIME_MAGIC;
        rt.id = 7;
        rt.task_count = 2; /* stale: the array grows */
        rt.owned_head = &fake[0];
        for (int i = 0; i < n; i++) {
            fake[i].magic = AT_TASK_MAGIC;
            fake[i].id = 500 - i; /* newest first, as linked */
            fake[i].state = AT_TASK_COMPLETE;
            fake[i].owned_next = &fake[i + 1 < n ? i + 1 : tail];
            fake[i].owned_prev = i ? &fake[i - 1] : NULL;
        }
        at_debug_descriptor bad = asynctrace_debug;
        bad.runtimes = &rt;
        bad.threads = NULL;
        at_dump *d = at_snapshot_take_at(&bad);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        AT_ASSERT_EQ_U64(d->nruntimes, 1);
        AT_ASSERT_EQ_U64(d->runtimes[0].ntasks, n);
        char want[96];
        snprintf(want, sizeof want, "corrupt: task list loops back to 0x%llx",
                 (unsigned long long)(uintptr_t)&fake[tail]);
        CU_ASSERT_STRING_EQUAL(d->runtimes[0].error, want);
        for (int i = 0; i < n; i++) /* in id order, each once */
            AT_ASSERT_EQ_U64(d->runtimes[0].tasks[i].id, 500 - (n - 1) + i);
        at_dump_free(d);
    }
    /* The same list cut open is walked whole, with no error. */
    fake[109].owned_next = NULL;
    for (int i = 0; i < 110; i++) {
        fake[i].magic = AT_TASK_MAGIC;
        fake[i].id = 500 - i;
        fake[i].owned_next = i < 109 ? &fake[i + 1] : NULL;
        fake[i].owned_prev = i ? &fake[i - 1] : NULL;
    }
    at_debug_descriptor ok = asynctrace_debug;
    ok.runtimes = &rt;
    ok.threads = NULL;
    at_dump *d = at_snapshot_take_at(&ok);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    AT_ASSERT_EQ_U64(d->runtimes[0].ntasks, 110);
    CU_ASSERT_PTR_NULL(d->runtimes[0].error);
    AT_ASSERT_EQ_U64(d->runtimes[0].tasks[0].id, 391);
    AT_ASSERT_EQ_U64(d->runtimes[0].tasks[109].id, 500);
    at_dump_free(d);
}

/* The walker reads fields where the layout table says they are, even when
 * the table disagrees with this build's compiler (a damaged table): a task
 * id declared 4 bytes wide is read as 4 bytes. */
AT_TEST(snapshot_reads_fields_as_the_layout_table_says)
{
    static at_task fake;
    static at_runtime rt;
    memset(&fake, 0, sizeof fake);
    memset(&rt, 0, sizeof rt);
    rt.magic = AT_RUNTIME_MAGIC;
    rt.id = 5;
    rt.owned_head = &fake;
    fake.magic = AT_TASK_MAGIC;
    fake.id = 0x100000007ull;
    fake.state = AT_TASK_COMPLETE;
    for (int narrow = 0; narrow < 2; narrow++) {
        static at_layout_record recs[64];
        static at_layout_field fields[64][128];
        uint32_t nrec = asynctrace_debug.layout_count;
        CU_ASSERT_FATAL(nrec <= 64);
        for (uint32_t i = 0; i < nrec; i++) {
            recs[i] = asynctrace_debug.layouts[i];
            CU_ASSERT_FATAL(recs[i].field_count <= 128);
            for (uint32_t j = 0; j < recs[i].field_count; j++) {
                fields[i][j] = recs[i].fields[j];
                if (narrow && !strcmp(recs[i].name, "task") && !strcmp(fields[i][j].name, "id"))
                    fields[i][j].size = 4;
            }
            recs[i].fields = fields[i];
        }
        at_debug_descriptor desc = asynctrace_debug;
        desc.layouts = recs;
        desc.runtimes = &rt;
        desc.threads = NULL;
        at_dump *d = at_snapshot_take_at(&desc);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        AT_ASSERT_EQ_U64(d->nruntimes, 1);
        AT_ASSERT_EQ_U64(d->runtimes[0].ntasks, 1);
        AT_ASSERT_EQ_U64(d->runtimes[0].tasks[0].id, narrow ? 7 : 0x100000007ull);
        at_dump_free(d);
    }
}

/* Dump memory is zero on allocation even when it comes from a freed dump's
 * chunks (they are kept for the next dump). */
AT_TEST(dump_memory_from_a_freed_dump_is_zero)
{
    for (int round = 0; round < 3; round++) {
        at_dump *d = at_snapshot_take();
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        unsigned char *p = at_dump_alloc(d, 300000);
        unsigned char *q = at_dump_alloc(d, 40);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        size_t nonzero = 0;
        for (size_t i = 0; i < 300000; i++)
            nonzero += p[i] != 0;
        for (size_t i = 0; i < 40; i++)
            nonzero += q[i] != 0;
        AT_ASSERT_EQ_U64(nonzero, 0);
        memset(p, 0xa5, 300000);
        memset(q, 0x5a, 40);
        at_dump_free(d);
    }
}

/* ---- A finished future stays finished ---- */

typedef struct {
    AT_FRAME;
    int *runs;
    at_yield_fut y;
} counted_state;

AT_ASYNC_FN(counted, counted_state)
{
    AT_BEGIN(counted_state);
    (*self->runs)++;
    AT_AWAIT(at_yield(&self->y));
    AT_END;
}

typedef struct {
    AT_FRAME;
    int runs;
    counted_state c;
} repoll_state;

/* Awaits the same child twice: the second await finds it finished. */
AT_ASYNC_FN(repoll, repoll_state)
{
    AT_BEGIN(repoll_state);
    self->c.runs = &self->runs;
    AT_AWAIT(AT_START(&self->c, counted));
    AT_AWAIT(&self->c.at_frame);
    AT_AWAIT(&self->c.at_frame);
    AT_END;
}

AT_TEST(polling_a_finished_future_returns_ready_without_rerunning_it)
{
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    repoll_state st;
    memset(&st, 0, sizeof(st));
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, repoll), "repoll"), 0);
    AT_ASSERT_EQ_INT(st.runs, 1);
    CU_ASSERT(at_frame_done(&st.c.at_frame));
    at_runtime_free(rt);
}

/* Every AT_E* code has its name and description (one list, AT_ERRORS);
 * anything else is unknown. */
AT_TEST(error_names_and_descriptions)
{
    static const struct {
        int code, value;
        const char *name, *text;
    } want[] = {
        {AT_OK, 0, "AT_OK", "success"},
        {AT_EINVAL, -22, "AT_EINVAL", "invalid argument, or a handle used twice"},
        {AT_ENOMEM, -12, "AT_ENOMEM", "out of memory"},
        {AT_ECLOSED, -32, "AT_ECLOSED", "the other side of the channel is gone"},
        {AT_ECANCELED, -125, "AT_ECANCELED", "the task was aborted"},
        {AT_ETIMEDOUT, -110, "AT_ETIMEDOUT", "timed out"},
        {AT_ESHUTDOWN, -108, "AT_ESHUTDOWN", "the runtime is shut down"},
        {AT_EBUSY, -16, "AT_EBUSY", "busy: too many requests pending, or in use"},
        {AT_EAGAIN, -11, "AT_EAGAIN", "would block: try again later"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        AT_ASSERT_EQ_INT(want[i].code, want[i].value);
        AT_ASSERT_EQ_STR(at_error_name(want[i].code), want[i].name);
        AT_ASSERT_EQ_STR(at_strerror(want[i].code), want[i].text);
    }
    CU_ASSERT_PTR_NULL(at_error_name(-1));
    CU_ASSERT_PTR_NULL(at_error_name(22));
    AT_ASSERT_EQ_STR(at_strerror(-1), "unknown error");
    AT_ASSERT_EQ_STR(at_strerror(12345), "unknown error");
}
