/* test_trace_signal.c - dumps on a signal: a live JSON dump of a running
 * runtime; a runtime stuck in a poll next to a live one (its tasks come
 * from a snapshot, marked not-polled, with a note); the text form. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace_util.h"

/* ---- Runtimes on their own threads ---- */

typedef struct {
    AT_FRAME;
    at_sleep_fut sleep;
} sleeper_state;

AT_ASYNC_FN(sleeper, sleeper_state)
{
    AT_BEGIN(sleeper_state);
    AT_AWAIT(at_sleep(&self->sleep, 60 * AT_SEC));
    AT_END;
}
static at_frame *sleeper(sleeper_state *s) { return AT_START(s, sleeper); }

typedef struct {
    AT_FRAME;
    int i;
    at_notify *stop;
    at_join_handle h[3];
    at_notify_wait_fut wait;
    _Atomic int ready;
} calm_main_state;

AT_ASYNC_FN(calm_main, calm_main_state)
{
    AT_BEGIN(calm_main_state);
    for (self->i = 0; self->i < 3; self->i++)
        self->h[self->i] = AT_SPAWN(NULL, "sleeper", sleeper_state, sleeper);
    atomic_store(&self->ready, 1);
    AT_AWAIT(at_notify_wait(&self->wait, self->stop));
    for (self->i = 0; self->i < 3; self->i++) {
        at_task_abort(self->h[self->i]);
        at_join_handle_release(&self->h[self->i]);
    }
    AT_END;
}

static _Atomic int stuck_release;
typedef struct {
    AT_FRAME;
    _Atomic int ready;
} stuck_state;

AT_ASYNC_FN(stuck_main, stuck_state)
{
    AT_BEGIN(stuck_state);
    atomic_store(&self->ready, 1);
    while (!atomic_load(&stuck_release))
        usleep(1000);
    AT_END;
}

typedef struct {
    at_runtime *rt;
    at_frame *main;
    pthread_t th;
    int rc;
} rt_thread;

static void *rt_run(void *arg)
{
    rt_thread *r = arg;
    r->rc = at_block_on(r->rt, r->main, "main");
    return NULL;
}

static void rt_start(rt_thread *r, at_frame *main, _Atomic int *ready)
{
    r->rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->rt);
    r->main = main;
    AT_ASSERT_EQ_INT(pthread_create(&r->th, NULL, rt_run, r), 0);
    while (!atomic_load(ready))
        usleep(1000);
}

static void rt_stop(rt_thread *r)
{
    pthread_join(r->th, NULL);
    AT_ASSERT_EQ_INT(r->rc, 0);
    at_runtime_free(r->rt);
}

/* Send the signal and wait for the dump file. */
static void signal_and_wait(int signo)
{
    uint64_t before = at_dump_signal_count();
    AT_ASSERT_EQ_INT(kill(getpid(), signo), 0);
    uint64_t deadline = at_now_ns() + 20 * AT_SEC;
    while (at_dump_signal_count() == before && at_now_ns() < deadline)
        usleep(1000);
    AT_ASSERT_EQ_U64(at_dump_signal_count(), before + 1);
}

static void dump_path(char *buf, size_t n, const char *ext)
{
    snprintf(buf, n, "/tmp/asynctrace-test-signal-%d.%s", (int)getpid(), ext);
}

AT_TEST(signal_writes_a_live_json_dump)
{
    at_notify stop;
    at_notify_init(&stop);
    calm_main_state st;
    memset(&st, 0, sizeof(st));
    st.stop = &stop;
    rt_thread r;
    rt_start(&r, AT_START(&st, calm_main), &st.ready);
    char path[128];
    dump_path(path, sizeof(path), "json");
    AT_ASSERT_EQ_INT(at_dump_signal_install(SIGUSR1, path), 0);
    signal_and_wait(SIGUSR1);

    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(doc, "source")), "live");
    AT_ASSERT_EQ_U64(json_array_size(json_object_get(doc, "errors")), 0);
    json_t *rts = json_object_get(doc, "runtimes");
    AT_ASSERT_EQ_U64(json_array_size(rts), 1);
    json_t *tasks = json_object_get(json_array_get(rts, 0), "tasks");
    AT_ASSERT_EQ_U64(json_array_size(tasks), 4);
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t) {
        AT_ASSERT_EQ_STR(json_string_value(json_object_get(t, "trace")), "traced");
        json_t *bt = json_array_get(json_object_get(t, "native"), 0);
        AT_ASSERT_EQ_U64(json_array_size(bt), 2);
        AT_ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(bt, 0), "symbol")),
                         i == 0 ? "at__notify_wait_poll" : "at__sleep_poll");
        AT_ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(bt, 1), "symbol")),
                         i == 0 ? "calm_main_poll" : "sleeper_poll");
    }
    json_decref(doc);
    unlink(path);
    at_dump_signal_remove();
    at_notify_one(&stop);
    rt_stop(&r);
}

AT_TEST(signal_with_a_stuck_runtime_writes_its_snapshot_and_says_so)
{
    at_notify stop;
    at_notify_init(&stop);
    calm_main_state calm;
    memset(&calm, 0, sizeof(calm));
    calm.stop = &stop;
    stuck_state stuck;
    memset(&stuck, 0, sizeof(stuck));
    atomic_store(&stuck_release, 0);
    rt_thread a, b;
    rt_start(&a, AT_START(&calm, calm_main), &calm.ready);
    rt_start(&b, AT_START(&stuck, stuck_main), &stuck.ready);
    char path[128];
    dump_path(path, sizeof(path), "json");
    AT_ASSERT_EQ_INT(at_dump_signal_install(SIGUSR2, path), 0);
    /* Long enough for the calm runtime on a loaded machine; the stuck one
     * never answers, so the wait is the whole timeout. */
    at_dump_signal_set_timeout(1000 * AT_MS);
    signal_and_wait(SIGUSR2);

    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(doc, "source")), "live");
    json_t *errors = json_object_get(doc, "errors");
    AT_ASSERT_EQ_U64(json_array_size(errors), 1);
    char want[200];
    snprintf(want, sizeof(want),
             "runtime %llu did not reach a safe point within 1000 ms; its tasks come from a "
             "snapshot taken without polling",
             (unsigned long long)b.rt->id);
    AT_ASSERT_EQ_STR(json_string_value(json_array_get(errors, 0)), want);
    json_t *rts = json_object_get(doc, "runtimes");
    AT_ASSERT_EQ_U64(json_array_size(rts), 2);
    /* Runtimes by id: the calm one first, every task traced. */
    json_t *ra = json_array_get(rts, 0), *rb = json_array_get(rts, 1);
    AT_ASSERT_EQ_U64(json_integer_value(json_object_get(ra, "id")), a.rt->id);
    AT_ASSERT_EQ_U64(json_array_size(json_object_get(ra, "tasks")), 4);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(ra, "tasks"), i, t)
        AT_ASSERT_EQ_STR(json_string_value(json_object_get(t, "trace")), "traced");
    AT_ASSERT_EQ_U64(json_integer_value(json_object_get(rb, "id")), b.rt->id);
    json_t *tb = json_array_get(json_object_get(rb, "tasks"), 0);
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(tb, "state")), "running");
    snprintf(want, sizeof(want),
             "not-polled: runtime %llu did not reach a safe point within 1000 ms",
             (unsigned long long)b.rt->id);
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(tb, "trace")), want);
    AT_ASSERT_EQ_U64(json_array_size(json_object_get(tb, "native")), 0);
    json_decref(doc);
    unlink(path);

    /* The text form, chosen by the file name. */
    dump_path(path, sizeof(path), "txt");
    AT_ASSERT_EQ_INT(at_dump_signal_install(SIGUSR2, path), 0);
    signal_and_wait(SIGUSR2);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[256] = "";
    CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof(line), f));
    AT_ASSERT_EQ_STR(line, "asynctrace dump (live): 5 tasks in 2 runtimes\n");
    fclose(f);
    unlink(path);

    at_dump_signal_remove();
    at_dump_signal_set_timeout(0);
    atomic_store(&stuck_release, 1);
    at_notify_one(&stop);
    rt_stop(&a);
    rt_stop(&b);
}

AT_TEST(signal_install_checks_its_arguments)
{
    AT_ASSERT_EQ_INT(at_dump_signal_install(0, "/tmp/x.json"), AT_EINVAL);
    /* Crash and uncatchable signals are refused: a real crash must crash. */
    const int crash[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
                         SIGTRAP, SIGSYS, SIGKILL, SIGSTOP};
    for (size_t i = 0; i < sizeof(crash) / sizeof(crash[0]); i++) {
        /* The disposition is left as it was (a sanitizer's handler, or
         * the default). */
        struct sigaction before, now;
        AT_ASSERT_EQ_INT(sigaction(crash[i], NULL, &before), 0);
        AT_ASSERT_EQ_INT(at_dump_signal_install(crash[i], "/tmp/x.json"), AT_EINVAL);
        AT_ASSERT_EQ_INT(sigaction(crash[i], NULL, &now), 0);
        CU_ASSERT(now.sa_handler == before.sa_handler);
        CU_ASSERT(now.sa_flags == before.sa_flags);
    }
    AT_ASSERT_EQ_INT(at_dump_signal_install(SIGUSR1, ""), AT_EINVAL);
    AT_ASSERT_EQ_INT(at_dump_signal_install(SIGUSR1, NULL), AT_EINVAL);
    at_dump_signal_remove(); /* nothing installed: no effect */
}

static void read_small_file(const char *path, char *buf, size_t n)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    fclose(f);
}

/* A planted symlink, at the temporary names or at the target, is never
 * followed, and the dump is created mode 0600 even under umask 000. */
AT_TEST(signal_dump_file_never_follows_a_symlink_and_is_private)
{
    char dir[] = "/tmp/asynctrace-test-dumpfile-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char secret[256], path[256], link[300];
    snprintf(secret, sizeof(secret), "%s/secret", dir);
    snprintf(path, sizeof(path), "%s/dump.json", dir);
    FILE *f = fopen(secret, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("secret\n", f);
    fclose(f);
    AT_ASSERT_EQ_INT(chmod(secret, 0600), 0);
    snprintf(link, sizeof(link), "%s.tmp", path);
    AT_ASSERT_EQ_INT(symlink(secret, link), 0);
    for (int n = 0; n < 16; n++) { /* the first temporary names it will try */
        snprintf(link, sizeof(link), "%s.tmp.%d.%d", path, (int)getpid(), n);
        AT_ASSERT_EQ_INT(symlink(secret, link), 0);
    }
    mode_t old_mask = umask(0);
    AT_ASSERT_EQ_INT(at_dump_signal_install(SIGUSR1, path), 0);
    signal_and_wait(SIGUSR1);

    char buf[64];
    struct stat st;
    read_small_file(secret, buf, sizeof(buf));
    AT_ASSERT_EQ_STR(buf, "secret\n");
    AT_ASSERT_EQ_INT(lstat(path, &st), 0);
    CU_ASSERT_FATAL(S_ISREG(st.st_mode));
    AT_ASSERT_EQ_INT(st.st_mode & 07777, 0600);
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    AT_ASSERT_EQ_INT(json_integer_value(json_object_get(doc, "version")), 1);
    json_decref(doc);

    /* A symlink at the target itself is replaced, not followed. */
    AT_ASSERT_EQ_INT(unlink(path), 0);
    AT_ASSERT_EQ_INT(symlink(secret, path), 0);
    signal_and_wait(SIGUSR1);
    umask(old_mask);
    read_small_file(secret, buf, sizeof(buf));
    AT_ASSERT_EQ_STR(buf, "secret\n");
    AT_ASSERT_EQ_INT(stat(secret, &st), 0);
    AT_ASSERT_EQ_INT(st.st_mode & 07777, 0600);
    AT_ASSERT_EQ_INT(lstat(path, &st), 0);
    CU_ASSERT_FATAL(S_ISREG(st.st_mode));
    AT_ASSERT_EQ_INT(st.st_mode & 07777, 0600);
    at_dump_signal_remove();

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    AT_ASSERT_EQ_INT(system(cmd), 0);
}
