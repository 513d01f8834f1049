/* test_trace_fp.c - native backtraces read by frame pointers (a dump's
 * fast path once a stack's return addresses are known) are the frames
 * libunwind gives, and a stack through a function that keeps no frame
 * pointer is left to libunwind: many tasks in two shapes, interleaved,
 * each traced exactly. */
#include "trace/trace_internal.h"
#include "trace_util.h"

#define SHAPE_TASKS 40

static at_notify never;

typedef struct {
    AT_FRAME;
    at_notify_wait_fut wait;
} inner_state;
AT_ASYNC_FN(inner, inner_state)
{
    AT_BEGIN(inner_state);
    AT_AWAIT(at_notify_wait(&self->wait, &never));
    AT_END;
}

/* The middle frame of the second shape is compiled without a frame
 * pointer (the attribute joins the poll function's declaration). */
typedef struct {
    AT_FRAME;
    inner_state child;
} plain_mid_state, bare_mid_state;
static at_poll_result bare_mid_poll(bare_mid_state *, at_context *)
    __attribute__((optimize("omit-frame-pointer")));
AT_ASYNC_FN(plain_mid, plain_mid_state)
{
    AT_BEGIN(plain_mid_state);
    AT_AWAIT(AT_START(&self->child, inner));
    AT_END;
}
AT_ASYNC_FN(bare_mid, bare_mid_state)
{
    AT_BEGIN(bare_mid_state);
    AT_AWAIT(AT_START(&self->child, inner));
    AT_END;
}

typedef struct {
    AT_FRAME;
    int bare;
    union {
        plain_mid_state plain;
        bare_mid_state bare;
    } mid;
} outer_state;
AT_ASYNC_FN(outer, outer_state)
{
    AT_BEGIN(outer_state);
    if (self->bare)
        AT_AWAIT(AT_START(&self->mid.bare, bare_mid));
    else
        AT_AWAIT(AT_START(&self->mid.plain, plain_mid));
    AT_END;
}
static at_frame *outer_start(outer_state *s, int bare)
{
    s->bare = bare;
    return AT_START(s, outer);
}

typedef struct {
    AT_FRAME;
    int i;
    at_join_handle h[2 * SHAPE_TASKS];
    at_dump *live;
    union {
        at_yield_fut y;
        at_dump_fut dump;
    } aw;
} fp_main_state;
AT_ASYNC_FN(fp_main, fp_main_state)
{
    AT_BEGIN(fp_main_state);
    for (self->i = 0; self->i < 2 * SHAPE_TASKS; self->i++) /* shapes interleaved */
        self->h[self->i] = AT_SPAWN(NULL, self->i % 2 ? "bare" : "plain", outer_state,
                                    outer_start, self->i % 2);
    AT_AWAIT(at_yield(&self->aw.y));
    AT_AWAIT(at_dump_tasks(&self->aw.dump));
    self->live = self->aw.dump.result;
    for (self->i = 0; self->i < 2 * SHAPE_TASKS; self->i++) {
        at_task_abort(self->h[self->i]);
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

AT_TEST(trace_by_frame_pointers_is_libunwinds_trace)
{
    at_notify_init(&never);
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    fp_main_state st;
    memset(&st, 0, sizeof st);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, fp_main), "main"), 0);
    const at_dump *d = st.live;
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    AT_ASSERT_EQ_U64(d->nerrors, 0);
    AT_ASSERT_EQ_U64(dump_task_count(d), 2 * SHAPE_TASKS + 1);
    const at_dump_runtime *r = &d->runtimes[0];
    size_t seen[2] = {0, 0};
    for (size_t i = 0; i < r->ntasks; i++) {
        const at_dump_task *t = &r->tasks[i];
        if (!strcmp(t->name, "main"))
            continue;
        int bare = !strcmp(t->name, "bare");
        seen[bare]++;
        AT_ASSERT_EQ_INT(t->traced, 1);
        CU_ASSERT_PTR_NULL(t->trace_note);
        AT_ASSERT_EQ_U64(t->nbacktraces, 1);
        const at_dump_backtrace *bt = &t->backtraces[0];
        AT_ASSERT_EQ_U64(bt->nframes, 4);
        const char *want[4] = {"at__notify_wait_poll", "inner_poll",
                               bare ? "bare_mid_poll" : "plain_mid_poll", "outer_poll"};
        const uint64_t starts[4] = {t->await->children[0].children[0].children[0].poll,
                                    (uint64_t)(uintptr_t)inner_poll,
                                    bare ? (uint64_t)(uintptr_t)bare_mid_poll
                                         : (uint64_t)(uintptr_t)plain_mid_poll,
                                    (uint64_t)(uintptr_t)outer_poll};
        for (int k = 0; k < 4 && k < (int)bt->nframes; k++) {
            AT_ASSERT_EQ_STR(bt->frames[k].symbol, want[k]);
            AT_ASSERT_EQ_U64(bt->frames[k].proc_start, starts[k]);
            AT_ASSERT_EQ_INT(bt->frames[k].verified, 1);
        }
    }
    AT_ASSERT_EQ_U64(seen[0], SHAPE_TASKS);
    AT_ASSERT_EQ_U64(seen[1], SHAPE_TASKS);
    at_dump_free(st.live);
    at_runtime_free(rt);
}

/* The rule itself: a return address in a function with a frame pointer
 * keeps it, one in a function compiled without does not. */
static void *ra_plain, *ra_bare;
static AT_NOINLINE void note_ra(void **where)
{
    *where = __builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
}
static AT_NOINLINE int with_fp(int k)
{
    volatile char room[64];
    room[k] = 1;
    note_ra(&ra_plain);
    return room[k];
}
static AT_NOINLINE __attribute__((optimize("omit-frame-pointer"))) int without_fp(int k)
{
    note_ra(&ra_bare);
    return k + 1;
}

AT_TEST(frame_pointer_rule_comes_from_the_call_frame_information)
{
    with_fp(3);
    without_fp(3);
    at__collector c;
    at__collector_init(&c);
    AT_ASSERT_EQ_INT(at__keeps_frame_pointer(&c, (uint64_t)(uintptr_t)ra_plain), 1);
    AT_ASSERT_EQ_INT(at__keeps_frame_pointer(&c, (uint64_t)(uintptr_t)ra_bare), 0);
    /* Memoised: the same answers again. */
    AT_ASSERT_EQ_INT(at__keeps_frame_pointer(&c, (uint64_t)(uintptr_t)ra_plain), 1);
    AT_ASSERT_EQ_INT(at__keeps_frame_pointer(&c, (uint64_t)(uintptr_t)ra_bare), 0);
    /* Not code at all. */
    AT_ASSERT_EQ_INT(at__keeps_frame_pointer(&c, 0x10), 0);
    at__collector_free(&c);
}
