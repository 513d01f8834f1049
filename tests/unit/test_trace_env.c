/* test_trace_env.c - dump on a signal configured by the environment
 * (ASYNCTRACE_DUMP_SIGNAL, ASYNCTRACE_DUMP_FILE), read when the process
 * creates its first runtime.  One test only: it must create that runtime. */
#include <signal.h>
#include <unistd.h>

#include "trace_util.h"

typedef struct {
    AT_FRAME;
    int i;
    at_yield_fut y;
} spin_state;

/* Yields until the dump file exists, so the dump happens while it runs. */
static char dump_file[128];

AT_ASYNC_FN(spin_main, spin_state)
{
    AT_BEGIN(spin_state);
    AT_ASSERT_EQ_INT(kill(getpid(), SIGUSR1), 0);
    for (self->i = 0; self->i < 2000000 && at_dump_signal_count() == 0; self->i++)
        AT_AWAIT(at_yield(&self->y));
    AT_END;
}

AT_TEST(environment_enables_the_signal_dump)
{
    snprintf(dump_file, sizeof(dump_file), "/tmp/asynctrace-test-env-%d.json", (int)getpid());
    setenv("ASYNCTRACE_DUMP_SIGNAL", "SIGUSR1", 1);
    setenv("ASYNCTRACE_DUMP_FILE", dump_file, 1);
    setenv("ASYNCTRACE_DUMP_TIMEOUT_MS", "5000", 1);
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    spin_state st;
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, spin_main), "spinner"), 0);
    AT_ASSERT_EQ_U64(at_dump_signal_count(), 1);

    json_error_t err;
    json_t *doc = json_load_file(dump_file, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(doc, "source")), "live");
    json_t *t = json_task_named(doc, "spinner");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(t, "trace")), "traced");
    json_t *bt = json_array_get(json_object_get(t, "native"), 0);
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(bt, 0), "symbol")),
                     "at__yield_poll");
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(bt, 1), "symbol")),
                     "spin_main_poll");
    json_decref(doc);
    unlink(dump_file);
    at_dump_signal_remove();
    at_runtime_free(rt);
}
