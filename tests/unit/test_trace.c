/* test_trace.c - live dumps from inside a task: the exact content of a
 * trace (native frames, call sites, lines, the await chain against the
 * snapshot's), and the rules of a trace poll: no progress, tasks that are
 * running/complete/cancelled are listed, a future that is Ready only while
 * traced does not hang the dump. */
#include <stdatomic.h>

#include "trace_util.h"

/* ---- Three async functions deep in a mutex lock ---- */

static unsigned f1_line, f2_line, f3_line;

typedef struct {
    AT_FRAME;
    at_mutex *m;
    int acquired;
    int acquired_while_tracing;
    at_mutex_lock_fut lock;
} f3_state;

AT_ASYNC_FN(f3, f3_state)
{
    AT_BEGIN(f3_state);
    f3_line = __LINE__; AT_AWAIT(at_mutex_lock(&self->lock, self->m));
    self->acquired = 1;
    self->acquired_while_tracing =
        (atomic_load(&at_task_current()->flags) & AT_TF_TRACING) != 0;
    at_mutex_unlock(self->m);
    AT_END;
}
static at_frame *f3(f3_state *s, at_mutex *m)
{
    s->m = m;
    s->acquired = s->acquired_while_tracing = 0;
    return AT_START(s, f3);
}

typedef struct {
    AT_FRAME;
    at_mutex *m;
    f3_state child;
} f2_state;

AT_ASYNC_FN(f2, f2_state)
{
    AT_BEGIN(f2_state);
    f2_line = __LINE__; AT_AWAIT(f3(&self->child, self->m));
    AT_END;
}
static at_frame *f2(f2_state *s, at_mutex *m) { s->m = m; return AT_START(s, f2); }

typedef struct {
    AT_FRAME;
    at_mutex *m;
    f2_state child;
} f1_state;

AT_ASYNC_FN(f1, f1_state)
{
    AT_BEGIN(f1_state);
    f1_line = __LINE__; AT_AWAIT(f2(&self->child, self->m));
    AT_END;
}
static at_frame *f1(f1_state *s, at_mutex *m) { s->m = m; return AT_START(s, f1); }

/* The main task: hold the mutex, let "locker" wait for it three deep, dump
 * (optionally right after releasing the mutex), snapshot, release, join. */
typedef struct {
    AT_FRAME;
    int unlock_before_dump;
    int i;
    int dump_status;
    at_mutex m;
    at_join_handle h;
    at_dump *live, *snap;
    union {
        at_yield_fut y;
        at_dump_fut dump;
        at_join_fut join;
    } aw;
} mutex_main_state;

AT_ASYNC_FN(mutex_main, mutex_main_state)
{
    AT_BEGIN(mutex_main_state);
    at_mutex_init(&self->m);
    AT_ASSERT_EQ_INT(at_mutex_try_lock(&self->m), 0);
    self->h = AT_SPAWN(NULL, "locker", f1_state, f1, &self->m);
    CU_ASSERT_PTR_NOT_NULL_FATAL(self->h.task);
    for (self->i = 0; self->i < 3; self->i++)
        AT_AWAIT(at_yield(&self->aw.y));
    if (self->unlock_before_dump)
        at_mutex_unlock(&self->m); /* hands the lock to the locker */
    AT_AWAIT(at_dump_tasks(&self->aw.dump));
    self->dump_status = self->aw.dump.status;
    self->live = self->aw.dump.result;
    self->snap = at_snapshot_take();
    if (!self->unlock_before_dump)
        at_mutex_unlock(&self->m);
    AT_AWAIT(at_join(&self->aw.join, self->h));
    AT_ASSERT_EQ_INT(self->aw.join.status, 0);
    AT_END;
}

/* What the locker did, read before its task is freed. */
typedef struct {
    int acquired, acquired_while_tracing;
} locker_result;

static void run_mutex_main(mutex_main_state *st, int unlock_before_dump, locker_result *res)
{
    memset(st, 0, sizeof(*st));
    st->unlock_before_dump = unlock_before_dump;
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(st, mutex_main), "main"), 0);
    f1_state *locker = at_join_handle_state(st->h);
    res->acquired = locker->child.child.acquired;
    res->acquired_while_tracing = locker->child.child.acquired_while_tracing;
    AT_ASSERT_EQ_INT(st->dump_status, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st->live);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st->snap);
    at_join_handle_release(&st->h);
    at_runtime_free(rt);
}

AT_TEST(trace_three_deep_mutex_exact_frames)
{
    mutex_main_state st;
    locker_result locker;
    run_mutex_main(&st, 0, &locker);
    const at_dump *d = st.live;
    AT_ASSERT_EQ_STR(d->source, "live");
    AT_ASSERT_EQ_U64(d->nerrors, 0);
    AT_ASSERT_EQ_U64(d->nruntimes, 1);
    AT_ASSERT_EQ_U64(dump_task_count(d), 2);

    const at_dump_task *main_task = dump_task_named(d, "main");
    const at_dump_task *t = dump_task_named(d, "locker");
    CU_ASSERT_PTR_NOT_NULL_FATAL(main_task);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    /* The requester is listed as running, with no trace. */
    AT_ASSERT_EQ_INT(main_task->state, AT_TASK_RUNNING);
    AT_ASSERT_EQ_INT(main_task->traced, 0);
    AT_ASSERT_EQ_STR(main_task->trace_note, "running");
    AT_ASSERT_EQ_U64(main_task->nbacktraces, 0);

    AT_ASSERT_EQ_INT(t->state, AT_TASK_IDLE);
    AT_ASSERT_EQ_INT(t->traced, 1);
    CU_ASSERT_PTR_NULL(t->trace_note);
    AT_ASSERT_EQ_U64(t->polls, 1); /* the trace poll is not counted */
    AT_ASSERT_EQ_U64(t->nbacktraces, 1);
    const at_dump_backtrace *bt = &t->backtraces[0];
    AT_ASSERT_EQ_U64(bt->nframes, 4);

    /* The await chain: f1 -> f2 -> f3 -> at_mutex_lock (leaf). */
    const at_dump_frame *chain[4];
    chain[0] = t->await;
    for (int i = 1; i < 4; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(chain[i - 1]);
        AT_ASSERT_EQ_U64(chain[i - 1]->nchildren, 1);
        chain[i] = &chain[i - 1]->children[0];
    }
    AT_ASSERT_EQ_STR(chain[3]->function, "at_mutex_lock");
    AT_ASSERT_EQ_INT(chain[3]->resource->kind, AT_RES_MUTEX);

    /* Native frames, innermost first: the leaf's poll, then f3, f2, f1. */
    const char *symbols[4] = {"at__mutex_lock_poll", "f3_poll", "f2_poll", "f1_poll"};
    const uint64_t starts[4] = {chain[3]->poll, (uint64_t)(uintptr_t)f3_poll,
                                (uint64_t)(uintptr_t)f2_poll, (uint64_t)(uintptr_t)f1_poll};
    const unsigned lines[4] = {0, f3_line, f2_line, f1_line};
    for (int i = 0; i < 4; i++) {
        const at_dump_native *n = &bt->frames[i];
        AT_ASSERT_EQ_STR(n->symbol, symbols[i]);
        AT_ASSERT_EQ_U64(n->proc_start, starts[i]);
        AT_ASSERT_EQ_INT(n->verified, 1);
        CU_ASSERT_TRUE(n->call_site > n->proc_start);
        CU_ASSERT_TRUE(n->return_address - n->call_site >= 2 &&
                       n->return_address - n->call_site <= 9);
        AT_ASSERT_EQ_U64(n->offset, n->call_site - n->proc_start);
        /* The frame's poll function is the one the await frame names. */
        AT_ASSERT_EQ_U64(n->proc_start, chain[3 - i]->poll);
        if (i == 0) {
            /* A direct call to at_trace_leaf. */
            AT_ASSERT_EQ_U64(n->call_target, (uint64_t)(uintptr_t)at_trace_leaf);
            AT_ASSERT_EQ_STR(n->file, chain[3]->file); /* runtime/src/sync.c */
        } else {
            /* Polls call their child through its site's poll pointer. */
            AT_ASSERT_EQ_U64(n->call_target, 0);
            AT_ASSERT_EQ_STR(n->file, __FILE__); /* relative, as compiled */
            AT_ASSERT_EQ_U64(n->line, lines[i]);
        }
    }

    /* The JSON await chain of the live dump equals the snapshot's. */
    json_t *jl = dump_json(st.live), *js = dump_json(st.snap);
    json_t *tl = json_task_named(jl, "locker"), *ts = json_task_named(js, "locker");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ts);
    json_t *al = json_object_get(tl, "await"), *as = json_object_get(ts, "await");
    for (int depth = 0; depth < 4; depth++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(al);
        CU_ASSERT_PTR_NOT_NULL_FATAL(as);
        static const char *const keys[] = {"function", "file", "line", "kind", "address",
                                           "resource"};
        for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++)
            CU_ASSERT_TRUE(json_equal(json_object_get(al, keys[k]), json_object_get(as, keys[k])));
        AT_ASSERT_EQ_U64(json_array_size(json_object_get(al, "children")), depth < 3 ? 1 : 0);
        al = json_array_get(json_object_get(al, "children"), 0);
        as = json_array_get(json_object_get(as, "children"), 0);
    }
    CU_ASSERT_TRUE(json_equal(json_object_get(tl, "await"), json_object_get(ts, "await")));
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(tl, "trace")), "traced");
    json_t *native = json_array_get(json_object_get(tl, "native"), 0);
    AT_ASSERT_EQ_U64(json_array_size(native), 4);
    for (int i = 0; i < 4; i++) {
        json_t *n = json_array_get(native, i);
        AT_ASSERT_EQ_STR(json_string_value(json_object_get(n, "symbol")), symbols[i]);
        CU_ASSERT_TRUE(json_is_true(json_object_get(n, "verified")));
    }
    /* Only live dumps carry trace fields. */
    CU_ASSERT_PTR_NULL(json_object_get(ts, "trace"));
    CU_ASSERT_PTR_NULL(json_object_get(ts, "native"));
    json_decref(jl);
    json_decref(js);

    AT_ASSERT_EQ_INT(locker.acquired, 1);
    at_dump_free(st.live);
    at_dump_free(st.snap);
}

AT_TEST(trace_poll_makes_no_progress)
{
    /* The mutex is handed to the locker just before the dump: the trace poll
     * must stop at the leaf, so the code after the lock does not run while
     * the task is being traced. */
    mutex_main_state st;
    locker_result locker;
    run_mutex_main(&st, 1, &locker);
    const at_dump_task *t = dump_task_named(st.live, "locker");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    AT_ASSERT_EQ_INT(t->state, AT_TASK_SCHEDULED); /* woken by the unlock */
    AT_ASSERT_EQ_INT(t->traced, 1);
    AT_ASSERT_EQ_U64(t->nbacktraces, 1);
    AT_ASSERT_EQ_U64(t->backtraces[0].nframes, 4);
    AT_ASSERT_EQ_STR(t->backtraces[0].frames[0].symbol, "at__mutex_lock_poll");
    AT_ASSERT_EQ_INT(locker.acquired, 1);
    AT_ASSERT_EQ_INT(locker.acquired_while_tracing, 0);
    at_dump_free(st.live);
    at_dump_free(st.snap);
}

/* ---- States: running, complete, cancelled, and an odd future ---- */

/* A leaf written by a user that is Ready only while traced. */
typedef struct {
    at_leaf leaf;
    int polls;
} odd_leaf;

AT_NOINLINE static at_poll_result odd_poll(at_frame *f, at_context *cx)
{
    odd_leaf *o = (odd_leaf *)f;
    o->polls++;
    if (at_trace_leaf(cx))
        return AT_READY; /* wrong on purpose */
    return AT_PENDING;   /* and never woken otherwise */
}
static const at_site odd_site = {AT_SITE_MAGIC, AT_KIND_LEAF, "odd", __FILE__, __LINE__, 0,
                                 odd_poll, NULL};

typedef struct {
    AT_FRAME;
    odd_leaf odd;
} odd_state;

AT_ASYNC_FN(odd_task, odd_state)
{
    AT_BEGIN(odd_state);
    at_frame_init(&self->odd.leaf.frame, &odd_site);
    memset(&self->odd.leaf.wait, 0, sizeof(self->odd.leaf.wait));
    self->odd.polls = 0;
    AT_AWAIT(&self->odd.leaf.frame);
    AT_END;
}
static at_frame *odd_task(odd_state *s) { return AT_START(s, odd_task); }

/* A leaf that wakes its task again whenever it is traced (a dump must still
 * poll it only once). */
AT_NOINLINE static at_poll_result rewake_poll(at_frame *f, at_context *cx)
{
    if (at_trace_leaf(cx)) {
        at_waker w = at_waker_clone(cx);
        at_waker_wake(&w);
        return AT_PENDING;
    }
    return AT_PENDING;
}
static const at_site rewake_site = {AT_SITE_MAGIC, AT_KIND_LEAF, "rewake", __FILE__, __LINE__, 0,
                                    rewake_poll, NULL};

typedef struct {
    AT_FRAME;
    at_leaf leaf;
} rewake_state;

AT_ASYNC_FN(rewake_task, rewake_state)
{
    AT_BEGIN(rewake_state);
    at_frame_init(&self->leaf.frame, &rewake_site);
    memset(&self->leaf.wait, 0, sizeof(self->leaf.wait));
    AT_AWAIT(&self->leaf.frame);
    AT_END;
}
static at_frame *rewake_task(rewake_state *s) { return AT_START(s, rewake_task); }

typedef struct {
    AT_FRAME;
    int n;
} quick_state;

AT_ASYNC_FN(quick, quick_state)
{
    AT_BEGIN(quick_state);
    self->n = 1;
    AT_END;
}
static at_frame *quick(quick_state *s) { return AT_START(s, quick); }

typedef struct {
    AT_FRAME;
    int i;
    at_join_handle done, aborted, odd, rewake;
    at_dump *first, *second;
    int status[2];
    union {
        at_yield_fut y;
        at_dump_fut dump;
    } aw;
} states_main_state;

AT_ASYNC_FN(states_main, states_main_state)
{
    AT_BEGIN(states_main_state);
    self->done = AT_SPAWN(NULL, "done", quick_state, quick);
    self->aborted = AT_SPAWN(NULL, "aborted", odd_state, odd_task);
    self->odd = AT_SPAWN(NULL, "odd", odd_state, odd_task);
    self->rewake = AT_SPAWN(NULL, "rewake", rewake_state, rewake_task);
    for (self->i = 0; self->i < 3; self->i++)
        AT_AWAIT(at_yield(&self->aw.y));
    at_task_abort(self->aborted);
    for (self->i = 0; self->i < 3; self->i++)
        AT_AWAIT(at_yield(&self->aw.y));
    AT_AWAIT(at_dump_tasks(&self->aw.dump));
    self->first = self->aw.dump.result;
    self->status[0] = self->aw.dump.status;
    AT_AWAIT(at_dump_tasks(&self->aw.dump));
    self->second = self->aw.dump.result;
    self->status[1] = self->aw.dump.status;
    at_task_abort(self->rewake);
    AT_END;
}

AT_TEST(trace_lists_every_state_and_survives_odd_futures)
{
    states_main_state st;
    memset(&st, 0, sizeof(st));
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, states_main), "main"), 0);
    AT_ASSERT_EQ_INT(st.status[0], 0);
    AT_ASSERT_EQ_INT(st.status[1], 0);
    const at_dump *d = st.first;
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    AT_ASSERT_EQ_U64(dump_task_count(d), 5);
    const at_dump_task *t;

    t = dump_task_named(d, "main");
    AT_ASSERT_EQ_INT(t->state, AT_TASK_RUNNING);
    AT_ASSERT_EQ_STR(t->trace_note, "running");
    t = dump_task_named(d, "done");
    AT_ASSERT_EQ_INT(t->state, AT_TASK_COMPLETE);
    AT_ASSERT_EQ_INT(t->traced, 0);
    AT_ASSERT_EQ_STR(t->trace_note, "complete");
    t = dump_task_named(d, "aborted");
    AT_ASSERT_EQ_INT(t->state, AT_TASK_CANCELLED);
    AT_ASSERT_EQ_STR(t->trace_note, "cancelled");
    CU_ASSERT_PTR_NULL(t->await);
    /* Ready only while traced: it completes during the dump, which goes on. */
    t = dump_task_named(d, "odd");
    AT_ASSERT_EQ_INT(t->state, AT_TASK_IDLE);
    AT_ASSERT_EQ_INT(t->traced, 1);
    AT_ASSERT_EQ_U64(t->nbacktraces, 1);
    AT_ASSERT_EQ_STR(t->backtraces[0].frames[0].symbol, "odd_poll");
    AT_ASSERT_EQ_STR(t->backtraces[0].frames[1].symbol, "odd_task_poll");
    CU_ASSERT_TRUE(strstr(t->trace_note, "completed during its trace poll") != NULL);
    /* ... and the dump says so at its level (JSON's "trace" only says
     * "traced"). */
    AT_ASSERT_EQ_U64(d->nerrors, 1);
    char note[200];
    snprintf(note, sizeof(note), "task %llu: %s", (unsigned long long)t->id, t->trace_note);
    AT_ASSERT_EQ_STR(d->errors[0], note);
    AT_ASSERT_EQ_INT(task_state_of(st.odd), AT_TASK_COMPLETE);
    /* Re-woken while traced: polled once, listed once. */
    t = dump_task_named(d, "rewake");
    AT_ASSERT_EQ_INT(t->traced, 1);
    AT_ASSERT_EQ_U64(t->nbacktraces, 1);
    AT_ASSERT_EQ_STR(t->backtraces[0].frames[0].symbol, "rewake_poll");

    /* The second dump sees the odd task complete. */
    t = dump_task_named(st.second, "odd");
    AT_ASSERT_EQ_INT(t->state, AT_TASK_COMPLETE);
    AT_ASSERT_EQ_STR(t->trace_note, "complete");

    at_dump_free(st.first);
    at_dump_free(st.second);
    at_join_handle_release(&st.done);
    at_join_handle_release(&st.aborted);
    at_join_handle_release(&st.odd);
    at_join_handle_release(&st.rewake);
    at_runtime_free(rt);
}

/* ---- at_trace_leaf without a collector ---- */

typedef struct {
    AT_FRAME;
    int result;
} probe_state;

AT_ASYNC_FN(probe, probe_state)
{
    AT_BEGIN(probe_state);
    self->result = at_trace_leaf(at__cx);
    AT_END;
}

AT_TEST(trace_leaf_is_inert_without_a_collector)
{
    probe_state st = {.result = -1};
    at_runtime *rt = at_runtime_new(NULL);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, probe), "probe"), 0);
    AT_ASSERT_EQ_INT(st.result, 0);
    at_runtime_free(rt);
}

/* ---- A dump inside a nested block_on ---- */

typedef struct {
    AT_FRAME;
    at_notify *n;
    at_notify_wait_fut wait;
} nested_waiter_state;

AT_ASYNC_FN(nested_waiter, nested_waiter_state)
{
    AT_BEGIN(nested_waiter_state);
    AT_AWAIT(at_notify_wait(&self->wait, self->n));
    AT_END;
}
static at_frame *nested_waiter(nested_waiter_state *s, at_notify *n)
{
    s->n = n;
    return AT_START(s, nested_waiter);
}

typedef struct {
    AT_FRAME;
    at_notify n;
    at_join_handle h;
    at_dump *d;
    union {
        at_yield_fut y;
        at_dump_fut dump;
    } aw;
} inner_state;

AT_ASYNC_FN(inner_main, inner_state)
{
    AT_BEGIN(inner_state);
    at_notify_init(&self->n);
    self->h = AT_SPAWN(NULL, "inner-waiter", nested_waiter_state, nested_waiter, &self->n);
    AT_AWAIT(at_yield(&self->aw.y));
    AT_AWAIT(at_dump_tasks(&self->aw.dump));
    self->d = self->aw.dump.result;
    at_notify_one(&self->n);
    at_join_handle_release(&self->h);
    AT_END;
}

typedef struct {
    AT_FRAME;
    at_runtime *inner_rt;
    inner_state inner;
    int rc;
} outer_state;

AT_ASYNC_FN(outer_main, outer_state)
{
    AT_BEGIN(outer_state);
    /* Blocks this thread in a second runtime, inside this poll. */
    self->rc = at_block_on(self->inner_rt, AT_START(&self->inner, inner_main), "inner");
    AT_END;
}

AT_TEST(trace_inside_a_nested_block_on)
{
    at_runtime *outer = at_runtime_new(NULL), *inner = at_runtime_new(NULL);
    outer_state st;
    memset(&st, 0, sizeof(st));
    st.inner_rt = inner;
    AT_ASSERT_EQ_INT(at_block_on(outer, AT_START(&st, outer_main), "outer"), 0);
    AT_ASSERT_EQ_INT(st.rc, 0);
    at_dump *d = st.inner.d;
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    /* Only the dumped runtime is in the dump. */
    AT_ASSERT_EQ_U64(d->nruntimes, 1);
    AT_ASSERT_EQ_U64(d->runtimes[0].id, inner->id);
    AT_ASSERT_EQ_U64(d->nerrors, 0);
    const at_dump_task *t = dump_task_named(d, "inner-waiter");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    AT_ASSERT_EQ_INT(t->traced, 1);
    AT_ASSERT_EQ_U64(t->nbacktraces, 1);
    /* The walk stops at the innermost at_root_poll: the outer task's poll
     * and the nested block_on below it are not part of the trace. */
    AT_ASSERT_EQ_U64(t->backtraces[0].nframes, 2);
    AT_ASSERT_EQ_STR(t->backtraces[0].frames[0].symbol, "at__notify_wait_poll");
    AT_ASSERT_EQ_STR(t->backtraces[0].frames[1].symbol, "nested_waiter_poll");
    t = dump_task_named(d, "inner");
    AT_ASSERT_EQ_INT(t->state, AT_TASK_RUNNING);
    at_dump_free(d);
    at_runtime_free(inner);
    at_runtime_free(outer);
}
