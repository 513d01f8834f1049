/* test_sched_seed.c - seeded schedules (ASYNCTRACE_SCHED_SEED,
 * runtime/src/sched/seed.c): without a seed the current-thread runtime
 * runs ready tasks first in, first out; with one it runs them in an order
 * drawn from the seed, the same in every process, another for another
 * seed.  Each seeded run is a fresh process (a runtime's generator is
 * seeded from the seed and the runtime's id). */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "asynctrace.h"
#include "cunit_main.h"

#define NTASKS 8
/* The first-poll order of the 8 tasks under ASYNCTRACE_SCHED_SEED=42. */
#define SEED_42_ORDER "60253417"

static int order[NTASKS], norder;

typedef struct {
    AT_FRAME;
    int index;
    at_yield_fut yield;
} member_state;

/* Records when it first runs, yields once, records again. */
AT_ASYNC_FN(member, member_state)
{
    AT_BEGIN(member_state);
    order[norder++ % NTASKS] = self->index;
    AT_AWAIT(at_yield(&self->yield));
    AT_END;
}

static at_frame *member(member_state *s, int index)
{
    s->index = index;
    return AT_START(s, member);
}

typedef struct {
    AT_FRAME;
    int i;
    at_join_handle h[NTASKS];
    at_join_fut join;
} crowd_state;

AT_ASYNC_FN(crowd, crowd_state)
{
    AT_BEGIN(crowd_state);
    for (self->i = 0; self->i < NTASKS; self->i++)
        self->h[self->i] = AT_SPAWN(NULL, "member", member_state, member, self->i);
    for (self->i = 0; self->i < NTASKS; self->i++)
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
    AT_END;
}

/* The order in which the tasks first ran, in a fresh process with
 * ASYNCTRACE_SCHED_SEED=seed (NULL: unset), as digits. */
static void run_order(const char *seed, char out[NTASKS + 1])
{
    int fd[2];
    CU_ASSERT_FATAL(pipe(fd) == 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        if (seed)
            setenv("ASYNCTRACE_SCHED_SEED", seed, 1);
        else
            unsetenv("ASYNCTRACE_SCHED_SEED");
        at_runtime *rt = at_runtime_new(NULL);
        static crowd_state st;
        if (!rt || at_block_on(rt, AT_START(&st, crowd), "crowd") != 0 || norder != NTASKS)
            _exit(1);
        char buf[NTASKS];
        for (int i = 0; i < NTASKS; i++)
            buf[i] = (char)('0' + order[i]);
        _exit(write(fd[1], buf, NTASKS) == NTASKS ? 0 : 1);
    }
    close(fd[1]);
    memset(out, 0, NTASKS + 1);
    ssize_t n = read(fd[0], out, NTASKS);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CU_ASSERT_EQUAL(n, NTASKS);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int is_permutation(const char *s)
{
    int seen[NTASKS] = {0};
    for (int i = 0; i < NTASKS; i++) {
        int d = s[i] - '0';
        if (d < 0 || d >= NTASKS || seen[d]++)
            return 0;
    }
    return 1;
}

AT_TEST(no_seed_runs_ready_tasks_in_spawn_order)
{
    char o[NTASKS + 1];
    run_order(NULL, o);
    CU_ASSERT_STRING_EQUAL(o, "01234567");
    run_order("", o);
    CU_ASSERT_STRING_EQUAL(o, "01234567");
    run_order("not-a-number", o);
    CU_ASSERT_STRING_EQUAL(o, "01234567");
}

AT_TEST(a_seed_replays_its_order_and_another_seed_differs)
{
    char a[NTASKS + 1], b[NTASKS + 1], c[NTASKS + 1];
    run_order("42", a);
    run_order("42", b);
    run_order("43", c);
    CU_ASSERT(is_permutation(a));
    CU_ASSERT(is_permutation(c));
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_STRING_NOT_EQUAL(a, "01234567");
    CU_ASSERT_STRING_NOT_EQUAL(a, c);
    /* The generator is part of the contract: a seed printed by yesterday's
     * run replays today. */
    CU_ASSERT_STRING_EQUAL(a, SEED_42_ORDER);
    if (strcmp(a, b) || !strcmp(a, c) || strcmp(a, SEED_42_ORDER))
        fprintf(stderr, "seed 42: %s, again: %s, seed 43: %s\n", a, b, c);
}
