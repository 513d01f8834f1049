/* test_combinators.c - unit tests of join-all and select: the child links
 * (a tree, children in index order, each completed child unlinked), what a
 * snapshot shows of a task suspended in them, select's winner and the drop
 * of the losers (a lock granted to a loser is passed on), ties, nesting,
 * cancellation of a task suspended in a combinator, and trace polls (live
 * dumps) of every primitive reached through the combinators. */
#include "asynctrace.h"
#include "cunit_main.h"
#include "prims_driver.h"

/* The objects the children wait on. */
typedef struct objs {
    at_mutex m;
    at_notify n1, n2;
    at_chan *c;
} objs;

static void objs_init(objs *o)
{
    at_mutex_init(&o->m);
    at_notify_init(&o->n1);
    at_notify_init(&o->n2);
    o->c = at_chan_new_unbounded(sizeof(int), NULL);
}

static void objs_free(objs *o)
{
    at_chan_sender_drop(o->c);
    at_chan_receiver_drop(o->c);
    AT_ASSERT_EQ_INT(at_mutex_destroy(&o->m), 0);
}

/* Check one frame of a snapshot; returns its children. */
static const at_dump_frame *expect_frame(const at_dump_frame *f,
                                         const char *function, uint32_t kind,
                                         size_t nchildren)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NULL_FATAL(f->error);
    AT_ASSERT_EQ_STR(f->function, function);
    AT_ASSERT_EQ_INT(f->kind, kind);
    AT_ASSERT_EQ_INT(f->nchildren, nchildren);
    return f->children;
}

static at_dump_task *snapshot_task(at_dump **dump, uint64_t id)
{
    *dump = at_snapshot_take();
    CU_ASSERT_PTR_NOT_NULL_FATAL(*dump);
    const at_dump_task *t = at_dump_find_task(*dump, id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NULL_FATAL(t->error);
    return (at_dump_task *)t;
}

/* ====================================================================== */
/* join-all                                                               */
/* ====================================================================== */

static uint32_t join_line;

/* join-all of [mutex lock, channel receive, notify wait]. */
typedef struct joiner {
    AT_FRAME;
    objs *o;
    int msg;
    int done;
    at_mutex_lock_fut lock;
    at_chan_recv_fut recv;
    at_notify_wait_fut wait;
    at_frame *children[3];
    at_join_all_fut join;
} joiner;

AT_ASYNC_FN(joiner_run, joiner)
{
    AT_BEGIN(joiner);
    self->children[0] = at_mutex_lock(&self->lock, &self->o->m);
    self->children[1] = at_chan_recv(&self->recv, self->o->c, &self->msg);
    self->children[2] = at_notify_wait(&self->wait, &self->o->n1);
    join_line = __LINE__; AT_AWAIT(at_join_all(&self->join, self->children, 3));
    self->done = 1;
    AT_ASSERT_EQ_INT(at_mutex_unlock(&self->o->m), 0);
    AT_END;
}

static at_frame *joiner_new(joiner *s, objs *o)
{
    s->o = o;
    return AT_START(s, joiner_run);
}

typedef struct tree_ctx {
    objs o;
    at_join_handle w;
} tree_ctx;

static int join_all_steps(driver *d)
{
    tree_ctx *c = d->ctx;
    joiner *j = c->w.task ? at_join_handle_state(c->w) : NULL;
    at_dump *dump;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->o.m), 0);
        c->w = AT_SPAWN(NULL, "joiner", joiner, joiner_new, &c->o);
        return SETTLE;
    case 1: {
        /* The links: children in index order under the join-all frame. */
        at_frame *jf = &j->join.frame;
        CU_ASSERT_PTR_EQUAL_FATAL(j->at_frame.child, jf);
        CU_ASSERT_PTR_EQUAL_FATAL(jf->child, j->children[0]);
        for (int i = 0; i < 3; i++) {
            CU_ASSERT_PTR_EQUAL_FATAL(j->children[i]->parent, jf);
            CU_ASSERT_PTR_EQUAL_FATAL(j->children[i]->sibling,
                                      i < 2 ? j->children[i + 1] : NULL);
        }
        AT_ASSERT_EQ_U64(j->join.remaining, 3);
        /* Every child was polled: each waits on its object. */
        AT_ASSERT_EQ_INT(c->o.m.waiters, 1);
        AT_ASSERT_EQ_U64(c->o.c->recv_waiters, 1);
        AT_ASSERT_EQ_INT(c->o.n1.waiters, 1);

        at_dump_task *t = snapshot_task(&dump, at_join_handle_id(c->w));
        const at_dump_frame *f = t->await;
        AT_ASSERT_EQ_INT(f->line, join_line);
        f = expect_frame(f, "joiner_run", AT_KIND_ASYNC, 1);
        f = expect_frame(f, "at_join_all", AT_KIND_JOIN_ALL, 3);
        expect_frame(&f[0], "at_mutex_lock", AT_KIND_LEAF, 0);
        AT_ASSERT_EQ_U64(f[0].resource->owner_id, d->id);
        expect_frame(&f[1], "at_chan_recv", AT_KIND_LEAF, 0);
        AT_ASSERT_EQ_U64(f[1].resource->object, (uintptr_t)c->o.c);
        expect_frame(&f[2], "at_notify_wait", AT_KIND_LEAF, 0);
        at_dump_free(dump);

        at_notify_one(&c->o.n1); /* the last child completes first */
        return SETTLE;
    }
    case 2: {
        AT_ASSERT_EQ_U64(j->join.remaining, 2);
        CU_ASSERT(at_frame_done(j->children[2]));
        CU_ASSERT_PTR_NULL(j->children[2]->parent);
        CU_ASSERT_PTR_NULL(j->children[1]->sibling);
        at_dump_task *t = snapshot_task(&dump, at_join_handle_id(c->w));
        const at_dump_frame *f = expect_frame(t->await, "joiner_run", AT_KIND_ASYNC, 1);
        f = expect_frame(f, "at_join_all", AT_KIND_JOIN_ALL, 2);
        expect_frame(&f[0], "at_mutex_lock", AT_KIND_LEAF, 0);
        expect_frame(&f[1], "at_chan_recv", AT_KIND_LEAF, 0);
        at_dump_free(dump);

        at_notify_one(&c->o.n1); /* a completed child is not polled again */
        AT_ASSERT_EQ_INT(c->o.n1.permit, 1);
        AT_ASSERT_EQ_INT(at_mutex_unlock(&c->o.m), 0); /* the first child */
        return SETTLE;
    }
    case 3: {
        AT_ASSERT_EQ_U64(j->join.remaining, 1);
        AT_ASSERT_EQ_INT(c->o.n1.permit, 1);
        CU_ASSERT_PTR_EQUAL_FATAL(j->join.frame.child, j->children[1]);
        CU_ASSERT_PTR_NULL(j->children[1]->sibling);
        at_dump_task *t = snapshot_task(&dump, at_join_handle_id(c->w));
        const at_dump_frame *f = expect_frame(t->await, "joiner_run", AT_KIND_ASYNC, 1);
        f = expect_frame(f, "at_join_all", AT_KIND_JOIN_ALL, 1);
        expect_frame(&f[0], "at_chan_recv", AT_KIND_LEAF, 0);
        at_dump_free(dump);
        AT_ASSERT_EQ_INT(j->done, 0);
        int v = 17;
        AT_ASSERT_EQ_INT(at_chan_try_send(c->o.c, &v), 0);
        return SETTLE;
    }
    case 4:
        AT_ASSERT_EQ_INT(task_state(c->w), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_INT(j->done, 1);
        AT_ASSERT_EQ_INT(j->msg, 17);
        CU_ASSERT_PTR_NULL(j->join.frame.child);
        CU_ASSERT_PTR_NULL(j->at_frame.child);
        AT_ASSERT_EQ_INT(c->o.m.locked, 0);
        at_join_handle_release(&c->w);
        return 0;
    }
    return 0;
}

AT_TEST(join_all_tree_and_completion)
{
    tree_ctx c = {0};
    objs_init(&c.o);
    AT_ASSERT_EQ_INT(run_driver(join_all_steps, &c), 5);
    objs_free(&c.o);
}

/* Aborting a task suspended in a join-all drops every unfinished child:
 * no waiter is left on any object. */
static int join_all_cancel_steps(driver *d)
{
    tree_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->o.m), 0);
        c->w = AT_SPAWN(NULL, "joiner", joiner, joiner_new, &c->o);
        return SETTLE;
    case 1:
        at_notify_one(&c->o.n1);
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_U64(((joiner *)at_join_handle_state(c->w))->join.remaining, 2);
        AT_ASSERT_EQ_INT(c->o.m.waiters, 1);
        at_task_abort(c->w);
        return SETTLE;
    case 3:
        AT_ASSERT_EQ_INT(task_state(c->w), AT_TASK_CANCELLED);
        AT_ASSERT_EQ_INT(c->o.m.waiters, 0);
        CU_ASSERT_PTR_NULL(c->o.m.head);
        AT_ASSERT_EQ_U64(c->o.c->recv_waiters, 0);
        AT_ASSERT_EQ_INT(c->o.n1.waiters, 0);
        AT_ASSERT_EQ_INT(at_mutex_unlock(&c->o.m), 0);
        AT_ASSERT_EQ_INT(c->o.m.locked, 0); /* nobody to hand it to */
        at_join_handle_release(&c->w);
        return 0;
    }
    return 0;
}

AT_TEST(join_all_cancel_drops_children)
{
    tree_ctx c = {0};
    objs_init(&c.o);
    AT_ASSERT_EQ_INT(run_driver(join_all_cancel_steps, &c), 4);
    objs_free(&c.o);
}

/* Zero children: Ready at the first poll. */
typedef struct empty_join {
    AT_FRAME;
    at_join_all_fut join;
    at_select_fut sel;
} empty_join;

AT_ASYNC_FN(empty_join_run, empty_join)
{
    AT_BEGIN(empty_join);
    AT_AWAIT(at_join_all(&self->join, NULL, 0));
    AT_AWAIT(at_select(&self->sel, NULL, 0));
    AT_END;
}

AT_TEST(empty_combinators_complete_at_once)
{
    empty_join s;
    at_runtime *rt = at_runtime_new(NULL);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&s, empty_join_run), "empty"), 0);
    AT_ASSERT_EQ_U64(s.join.remaining, 0);
    AT_ASSERT_EQ_U64(s.sel.index, SIZE_MAX);
    at_runtime_free(rt);
}

/* ====================================================================== */
/* select                                                                 */
/* ====================================================================== */

static uint32_t select_line;

/* select of [notify n1, notify n2, channel receive, mutex lock]. */
typedef struct selecter {
    AT_FRAME;
    objs *o;
    int msg;
    int done;
    at_notify_wait_fut w1, w2;
    at_chan_recv_fut recv;
    at_mutex_lock_fut lock;
    at_frame *children[4];
    at_select_fut sel;
} selecter;

AT_ASYNC_FN(selecter_run, selecter)
{
    AT_BEGIN(selecter);
    self->children[0] = at_notify_wait(&self->w1, &self->o->n1);
    self->children[1] = at_notify_wait(&self->w2, &self->o->n2);
    self->children[2] = at_chan_recv(&self->recv, self->o->c, &self->msg);
    self->children[3] = at_mutex_lock(&self->lock, &self->o->m);
    select_line = __LINE__; AT_AWAIT(at_select(&self->sel, self->children, 4));
    self->done = 1;
    if (self->sel.index == 3)
        AT_ASSERT_EQ_INT(at_mutex_unlock(&self->o->m), 0);
    AT_END;
}

static at_frame *selecter_new(selecter *s, objs *o)
{
    s->o = o;
    return AT_START(s, selecter_run);
}

/* Check that only the winner left a mark: no waiter anywhere. */
static void assert_no_waiters(const objs *o)
{
    AT_ASSERT_EQ_INT(o->n1.waiters, 0);
    AT_ASSERT_EQ_INT(o->n2.waiters, 0);
    AT_ASSERT_EQ_U64(o->c->recv_waiters, 0);
    AT_ASSERT_EQ_INT(o->m.waiters, 0);
    CU_ASSERT_PTR_NULL(o->n1.head);
    CU_ASSERT_PTR_NULL(o->n2.head);
    CU_ASSERT_PTR_NULL(o->c->recv_head);
    CU_ASSERT_PTR_NULL(o->m.head);
}

static int select_steps(driver *d)
{
    tree_ctx *c = d->ctx;
    selecter *s = c->w.task ? at_join_handle_state(c->w) : NULL;
    at_dump *dump;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->o.m), 0);
        c->w = AT_SPAWN(NULL, "selecter", selecter, selecter_new, &c->o);
        return SETTLE;
    case 1: {
        AT_ASSERT_EQ_U64(s->sel.index, SIZE_MAX);
        at_dump_task *t = snapshot_task(&dump, at_join_handle_id(c->w));
        const at_dump_frame *f = t->await;
        AT_ASSERT_EQ_INT(f->line, select_line);
        f = expect_frame(f, "selecter_run", AT_KIND_ASYNC, 1);
        f = expect_frame(f, "at_select", AT_KIND_SELECT, 4);
        expect_frame(&f[0], "at_notify_wait", AT_KIND_LEAF, 0);
        AT_ASSERT_EQ_U64(f[0].resource->object, (uintptr_t)&c->o.n1);
        expect_frame(&f[1], "at_notify_wait", AT_KIND_LEAF, 0);
        AT_ASSERT_EQ_U64(f[1].resource->object, (uintptr_t)&c->o.n2);
        expect_frame(&f[2], "at_chan_recv", AT_KIND_LEAF, 0);
        expect_frame(&f[3], "at_mutex_lock", AT_KIND_LEAF, 0);
        AT_ASSERT_EQ_U64(f[3].resource->owner_id, d->id);
        at_dump_free(dump);
        at_notify_one(&c->o.n2);
        return SETTLE;
    }
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_U64(s->sel.index, 1);
        AT_ASSERT_EQ_INT(s->done, 1);
        assert_no_waiters(&c->o);
        CU_ASSERT_PTR_NULL(s->sel.frame.child);
        AT_ASSERT_EQ_INT(c->o.m.locked, 1); /* still the driver's */
        AT_ASSERT_EQ_INT(at_mutex_unlock(&c->o.m), 0);
        at_join_handle_release(&c->w);
        return 0;
    }
    return 0;
}

AT_TEST(select_first_ready_drops_the_others)
{
    tree_ctx c = {0};
    objs_init(&c.o);
    AT_ASSERT_EQ_INT(run_driver(select_steps, &c), 3);
    objs_free(&c.o);
}

/* A tie: n1 notified and the lock handed to the select's lock child before
 * the task runs.  The lower index wins, and the lock granted to the losing
 * child is passed on (here: released), never leaked. */
static int select_tie_steps(driver *d)
{
    tree_ctx *c = d->ctx;
    selecter *s = c->w.task ? at_join_handle_state(c->w) : NULL;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->o.m), 0);
        c->w = AT_SPAWN(NULL, "selecter", selecter, selecter_new, &c->o);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_INT(c->o.m.waiters, 1);
        AT_ASSERT_EQ_INT(at_mutex_unlock(&c->o.m), 0);
        AT_ASSERT_EQ_U64(c->o.m.owner_id, at_join_handle_id(c->w));
        at_notify_one(&c->o.n1);
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_U64(s->sel.index, 0);
        assert_no_waiters(&c->o);
        AT_ASSERT_EQ_INT(c->o.m.locked, 0);
        AT_ASSERT_EQ_U64(c->o.m.owner_id, 0);
        at_join_handle_release(&c->w);
        return 0;
    }
    return 0;
}

AT_TEST(select_tie_lowest_index_wins_loser_lock_passed_on)
{
    tree_ctx c = {0};
    objs_init(&c.o);
    AT_ASSERT_EQ_INT(run_driver(select_tie_steps, &c), 3);
    objs_free(&c.o);
}

/* Aborting a task suspended in a select drops every child. */
static int select_cancel_steps(driver *d)
{
    tree_ctx *c = d->ctx;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->o.m), 0);
        c->w = AT_SPAWN(NULL, "selecter", selecter, selecter_new, &c->o);
        return SETTLE;
    case 1:
        AT_ASSERT_EQ_INT(c->o.m.waiters, 1);
        at_task_abort(c->w);
        return SETTLE;
    case 2:
        AT_ASSERT_EQ_INT(task_state(c->w), AT_TASK_CANCELLED);
        assert_no_waiters(&c->o);
        AT_ASSERT_EQ_INT(at_mutex_unlock(&c->o.m), 0);
        at_join_handle_release(&c->w);
        return 0;
    }
    return 0;
}

AT_TEST(select_cancel_drops_children)
{
    tree_ctx c = {0};
    objs_init(&c.o);
    AT_ASSERT_EQ_INT(run_driver(select_cancel_steps, &c), 3);
    objs_free(&c.o);
}

/* ====================================================================== */
/* Nesting: join-all of [select of two notifies, an async fn in a lock]   */
/* ====================================================================== */

static uint32_t inner_line;

typedef struct inner {
    AT_FRAME;
    at_mutex *m;
    at_mutex_lock_fut lock;
} inner;

AT_ASYNC_FN(inner_run, inner)
{
    AT_BEGIN(inner);
    inner_line = __LINE__; AT_AWAIT(at_mutex_lock(&self->lock, self->m));
    AT_ASSERT_EQ_INT(at_mutex_unlock(self->m), 0);
    AT_END;
}

typedef struct nested {
    AT_FRAME;
    objs *o;
    at_notify_wait_fut w1, w2;
    at_frame *sel_children[2];
    at_select_fut sel;
    inner in;
    at_frame *join_children[2];
    at_join_all_fut join;
} nested;

AT_ASYNC_FN(nested_run, nested)
{
    AT_BEGIN(nested);
    self->sel_children[0] = at_notify_wait(&self->w1, &self->o->n1);
    self->sel_children[1] = at_notify_wait(&self->w2, &self->o->n2);
    self->join_children[0] = at_select(&self->sel, self->sel_children, 2);
    self->in.m = &self->o->m;
    self->join_children[1] = AT_START(&self->in, inner_run);
    AT_AWAIT(at_join_all(&self->join, self->join_children, 2));
    AT_END;
}

static at_frame *nested_new(nested *s, objs *o)
{
    s->o = o;
    return AT_START(s, nested_run);
}

static int nested_steps(driver *d)
{
    tree_ctx *c = d->ctx;
    nested *s = c->w.task ? at_join_handle_state(c->w) : NULL;
    at_dump *dump;
    switch (d->phase) {
    case 0:
        AT_ASSERT_EQ_INT(at_mutex_try_lock(&c->o.m), 0);
        c->w = AT_SPAWN(NULL, "nested", nested, nested_new, &c->o);
        return SETTLE;
    case 1: {
        at_dump_task *t = snapshot_task(&dump, at_join_handle_id(c->w));
        const at_dump_frame *f = expect_frame(t->await, "nested_run", AT_KIND_ASYNC, 1);
        const at_dump_frame *j = expect_frame(f, "at_join_all", AT_KIND_JOIN_ALL, 2);
        const at_dump_frame *sel = expect_frame(&j[0], "at_select", AT_KIND_SELECT, 2);
        expect_frame(&sel[0], "at_notify_wait", AT_KIND_LEAF, 0);
        expect_frame(&sel[1], "at_notify_wait", AT_KIND_LEAF, 0);
        const at_dump_frame *in = expect_frame(&j[1], "inner_run", AT_KIND_ASYNC, 1);
        AT_ASSERT_EQ_INT(j[1].line, inner_line);
        expect_frame(&in[0], "at_mutex_lock", AT_KIND_LEAF, 0);
        AT_ASSERT_EQ_U64(in[0].resource->owner_id, d->id);
        at_dump_free(dump);
        at_notify_one(&c->o.n2);
        return SETTLE;
    }
    case 2: {
        /* The select finished and left the tree; the other branch stays. */
        AT_ASSERT_EQ_U64(s->sel.index, 1);
        AT_ASSERT_EQ_INT(c->o.n1.waiters, 0);
        at_dump_task *t = snapshot_task(&dump, at_join_handle_id(c->w));
        const at_dump_frame *f = expect_frame(t->await, "nested_run", AT_KIND_ASYNC, 1);
        const at_dump_frame *j = expect_frame(f, "at_join_all", AT_KIND_JOIN_ALL, 1);
        expect_frame(&j[0], "inner_run", AT_KIND_ASYNC, 1);
        at_dump_free(dump);
        AT_ASSERT_EQ_INT(at_mutex_unlock(&c->o.m), 0);
        return SETTLE;
    }
    case 3:
        AT_ASSERT_EQ_INT(task_state(c->w), AT_TASK_COMPLETE);
        AT_ASSERT_EQ_INT(c->o.m.locked, 0);
        at_join_handle_release(&c->w);
        return 0;
    }
    return 0;
}

AT_TEST(nested_join_all_select_tree)
{
    tree_ctx c = {0};
    objs_init(&c.o);
    AT_ASSERT_EQ_INT(run_driver(nested_steps, &c), 4);
    objs_free(&c.o);
}

AT_TEST(combinator_sites)
{
    at_join_all_fut j;
    at_select_fut s;
    at_frame *a = at_join_all(&j, NULL, 0);
    at_frame *b = at_select(&s, NULL, 0);
    AT_ASSERT_EQ_STR(a->site->function, "at_join_all");
    AT_ASSERT_EQ_INT(a->site->kind, AT_KIND_JOIN_ALL);
    AT_ASSERT_EQ_STR(b->site->function, "at_select");
    AT_ASSERT_EQ_INT(b->site->kind, AT_KIND_SELECT);
    CU_ASSERT_PTR_NOT_NULL(a->site->poll);
    CU_ASSERT(a->site->poll != b->site->poll);
}

/* ====================================================================== */
/* Trace polls: every primitive's leaf, reached through the combinators,   */
/* records a backtrace and touches nothing                                 */
/* ====================================================================== */

typedef struct world {
    at_mutex m;
    at_semaphore s;
    at_notify n, n2;
    at_chan *full, *empty;
    at_oneshot *o;
} world;

/* One task per way of waiting (which = 0..7). */
typedef struct waiting {
    AT_FRAME;
    world *w;
    int which;
    int v;
    uint64_t out;
    at_mutex_lock_fut lock;
    at_semaphore_acquire_fut acq;
    at_notify_wait_fut wait;
    at_chan_send_fut send;
    at_chan_recv_fut recv;
    at_oneshot_recv_fut orecv;
    at_frame *children[2];
    union {
        at_join_all_fut join;
        at_select_fut sel;
    } comb;
} waiting;

static at_frame *waiting_future(waiting *s)
{
    world *w = s->w;
    switch (s->which) {
    case 0: return at_mutex_lock(&s->lock, &w->m);
    case 1: return at_semaphore_acquire(&s->acq, &w->s, 2);
    case 2: return at_notify_wait(&s->wait, &w->n);
    case 3: return at_chan_send(&s->send, w->full, &s->v);
    case 4: return at_chan_recv(&s->recv, w->empty, &s->out);
    case 5: return at_oneshot_recv(&s->orecv, w->o, &s->out);
    case 6:
        s->children[0] = at_notify_wait(&s->wait, &w->n2);
        s->children[1] = at_mutex_lock(&s->lock, &w->m);
        return at_join_all(&s->comb.join, s->children, 2);
    default:
        s->children[0] = at_notify_wait(&s->wait, &w->n2);
        s->children[1] = at_semaphore_acquire(&s->acq, &w->s, 1);
        return at_select(&s->comb.sel, s->children, 2);
    }
}

AT_ASYNC_FN(waiting_run, waiting)
{
    AT_BEGIN(waiting);
    AT_AWAIT(waiting_future(self));
    if (self->which == 0 || self->which == 6)
        AT_ASSERT_EQ_INT(at_mutex_unlock(&self->w->m), 0);
    if (self->which == 7 && self->comb.sel.index == 1)
        at_semaphore_release(&self->w->s, 1);
    AT_END;
}

static at_frame *waiting_new(waiting *s, world *w, int which)
{
    s->w = w;
    s->which = which;
    return AT_START(s, waiting_run);
}

#define NWAITING 8

/* Everything a trace poll could disturb. */
typedef struct fingerprint {
    uint32_t m_waiters, m_locked, s_waiters, n_waiters, n2_waiters, n_permit;
    uint64_t m_owner, s_permits, full_len, full_sw, empty_rw, empty_rx, o_rx;
    uint32_t o_flags;
    uint64_t since[NWAITING][2];
} fingerprint;

static void take_fingerprint(fingerprint *fp, const world *w,
                             at_join_handle *h)
{
    memset(fp, 0, sizeof *fp);
    fp->m_waiters = w->m.waiters;
    fp->m_locked = w->m.locked;
    fp->m_owner = w->m.owner_id;
    fp->s_waiters = w->s.waiters;
    fp->s_permits = w->s.permits;
    fp->n_waiters = w->n.waiters;
    fp->n2_waiters = w->n2.waiters;
    fp->n_permit = w->n.permit;
    fp->full_len = w->full->len;
    fp->full_sw = w->full->send_waiters;
    fp->empty_rw = w->empty->recv_waiters;
    fp->empty_rx = w->empty->rx_task_id;
    fp->o_rx = w->o->rx_task_id;
    fp->o_flags = w->o->flags;
    for (int i = 0; i < NWAITING; i++) {
        waiting *s = at_join_handle_state(h[i]);
        at_frame *f = s->at_frame.child;
        at_frame *leaf = f->site->kind == AT_KIND_LEAF ? f : f->child;
        fp->since[i][0] = ((at_leaf *)leaf)->wait.since_ns;
        if (leaf->sibling)
            fp->since[i][1] = ((at_leaf *)leaf->sibling)->wait.since_ns;
    }
}

typedef struct trace_main {
    AT_FRAME;
    world *w;
    at_join_handle h[NWAITING];
    fingerprint before, after;
    at_dump *dump;
    int i;
    union {
        at_yield_fut y;
        at_dump_fut dump;
        at_join_fut join;
    } aw;
} trace_main;

/* The native backtrace of each leaf starts at the leaf's poll function and
 * goes through the combinator's poll, then the task's async function. */
static void check_traces(trace_main *self)
{
    for (int i = 0; i < NWAITING; i++) {
        waiting *s = at_join_handle_state(self->h[i]);
        const at_dump_task *t =
            at_dump_find_task(self->dump, at_join_handle_id(self->h[i]));
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        AT_ASSERT_EQ_INT(t->traced, 1);
        at_frame *top = s->at_frame.child;
        int comb = top->site->kind != AT_KIND_LEAF;
        AT_ASSERT_EQ_INT(t->nbacktraces, comb ? 2 : 1);
        for (size_t b = 0; b < t->nbacktraces; b++) {
            const at_dump_backtrace *bt = &t->backtraces[b];
            at_frame *leaf = comb ? s->children[b] : top;
            CU_ASSERT_FATAL(bt->nframes == (comb ? 3u : 2u));
            AT_ASSERT_EQ_U64(bt->frames[0].proc_start, (uintptr_t)leaf->site->poll);
            if (comb)
                AT_ASSERT_EQ_U64(bt->frames[1].proc_start, (uintptr_t)top->site->poll);
            AT_ASSERT_EQ_U64(bt->frames[bt->nframes - 1].proc_start,
                             (uintptr_t)waiting_run_poll);
        }
    }
}

AT_ASYNC_FN(trace_main_run, trace_main)
{
    AT_BEGIN(trace_main);
    AT_ASSERT_EQ_INT(at_mutex_try_lock(&self->w->m), 0);
    {
        int v = 0;
        AT_ASSERT_EQ_INT(at_chan_try_send(self->w->full, &v), 0);
    }
    for (self->i = 0; self->i < NWAITING; self->i++)
        self->h[self->i] = AT_SPAWN(NULL, "waiting", waiting, waiting_new,
                                    self->w, self->i);
    for (self->i = 0; self->i < SETTLE; self->i++)
        AT_AWAIT(at_yield(&self->aw.y));
    for (self->i = 0; self->i < NWAITING; self->i++)
        AT_ASSERT_EQ_INT(task_state(self->h[self->i]), AT_TASK_IDLE);

    take_fingerprint(&self->before, self->w, self->h);
    AT_AWAIT(at_dump_tasks(&self->aw.dump));
    AT_ASSERT_EQ_INT(self->aw.dump.status, 0);
    self->dump = self->aw.dump.result;
    take_fingerprint(&self->after, self->w, self->h);
    CU_ASSERT(memcmp(&self->before, &self->after, sizeof self->before) == 0);
    check_traces(self);
    at_dump_free(self->dump);

    /* The traced tasks were re-woken: they re-registered, nothing is lost. */
    for (self->i = 0; self->i < SETTLE; self->i++)
        AT_AWAIT(at_yield(&self->aw.y));
    take_fingerprint(&self->after, self->w, self->h);
    CU_ASSERT(memcmp(&self->before, &self->after, sizeof self->before) == 0);

    /* Release everything; every task completes. */
    at_notify_one(&self->w->n);
    at_notify_all(&self->w->n2);
    {
        int v;
        uint64_t x = 1;
        AT_ASSERT_EQ_INT(at_chan_try_recv(self->w->full, &v), 0);
        AT_ASSERT_EQ_INT(at_chan_try_send(self->w->empty, &x), 0);
        AT_ASSERT_EQ_INT(at_oneshot_send(self->w->o, &x), 0);
    }
    at_semaphore_release(&self->w->s, 2);
    AT_ASSERT_EQ_INT(at_mutex_unlock(&self->w->m), 0);
    for (self->i = 0; self->i < NWAITING; self->i++) {
        AT_AWAIT(at_join(&self->aw.join, self->h[self->i]));
        AT_ASSERT_EQ_INT(self->aw.join.status, 0);
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

AT_TEST(trace_polls_record_and_touch_nothing)
{
    world w;
    trace_main m;
    at_mutex_init(&w.m);
    at_semaphore_init(&w.s, 1);
    at_notify_init(&w.n);
    at_notify_init(&w.n2);
    w.full = at_chan_new_bounded(sizeof(int), 1, NULL);
    w.empty = at_chan_new_unbounded(sizeof(uint64_t), NULL);
    w.o = at_oneshot_new(sizeof(uint64_t));
    m.w = &w;
    at_runtime *rt = at_runtime_new(NULL);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&m, trace_main_run), "main"), 0);
    at_runtime_free(rt);
    AT_ASSERT_EQ_INT(w.m.locked, 0);
    AT_ASSERT_EQ_U64(w.s.permits, 1);
    at_chan_sender_drop(w.full);
    at_chan_receiver_drop(w.full);
    at_chan_sender_drop(w.empty);
    at_chan_receiver_drop(w.empty);
}
