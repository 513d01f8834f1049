/* cunit_main.h - one-place test registration for the CUnit unit tests.
 *
 * A test file includes this header, writes tests with AT_TEST(name) { ... }
 * (each registers itself through a constructor, so there is no second list
 * to keep in step), and gets a main() that runs them as one suite named
 * after the file, each test in its own process with a timeout (a crash or
 * a hang names its test, the rest still run), prints CUnit's summary and
 * exits non-zero on any failure.  Pass test names as arguments to run only
 * those. */
#ifndef AT_CUNIT_MAIN_H
#define AT_CUNIT_MAIN_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AT_TEST_MAX 256

static struct {
    const char *name;
    void (*fn)(void);
} at__tests[AT_TEST_MAX];
static int at__ntests;

static void at__register_test(const char *name, void (*fn)(void))
{
    if (at__ntests == AT_TEST_MAX) {
        fprintf(stderr, "cunit_main.h: more than %d tests\n", AT_TEST_MAX);
        abort();
    }
    at__tests[at__ntests].name = name;
    at__tests[at__ntests].fn = fn;
    at__ntests++;
}

#define AT_TEST(name)                                                          \
    static void name(void);                                                    \
    __attribute__((constructor)) static void name##__register(void)            \
    {                                                                          \
        at__register_test(#name, name);                                        \
    }                                                                          \
    static void name(void)

/* Typed equality assertions that print both values on failure. */
#define AT_ASSERT_EQ_U64(actual, expected)                                     \
    do {                                                                       \
        unsigned long long at__a = (unsigned long long)(actual);               \
        unsigned long long at__e = (unsigned long long)(expected);             \
        if (at__a != at__e)                                                    \
            fprintf(stderr, "%s:%d: %s == %llu, expected %llu\n", __FILE__,    \
                    __LINE__, #actual, at__a, at__e);                          \
        CU_ASSERT_EQUAL_FATAL(at__a, at__e);                                   \
    } while (0)
#define AT_ASSERT_EQ_INT(actual, expected)                                     \
    do {                                                                       \
        long long at__a = (long long)(actual);                                 \
        long long at__e = (long long)(expected);                               \
        if (at__a != at__e)                                                    \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__,    \
                    __LINE__, #actual, at__a, at__e);                          \
        CU_ASSERT_EQUAL_FATAL(at__a, at__e);                                   \
    } while (0)
#define AT_ASSERT_EQ_STR(actual, expected)                                     \
    do {                                                                       \
        const char *at__a = (actual);                                          \
        const char *at__e = (expected);                                        \
        if (!at__a || !at__e || strcmp(at__a, at__e) != 0)                     \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n",          \
                    __FILE__, __LINE__, #actual, at__a ? at__a : "(null)",     \
                    at__e ? at__e : "(null)");                                 \
        CU_ASSERT_FATAL(at__a && at__e && strcmp(at__a, at__e) == 0);          \
    } while (0)

/* ---- Running: every test in its own process ----
 *
 * The parent forks once per test; the child runs that test under CUnit and
 * reports its assertion counts through a pipe.  A test that crashes or
 * hangs (AT_TEST_TIMEOUT seconds, default 240) is reported by name as
 * failed and the others still run.  AT_TEST_NOFORK=1 runs everything in
 * one process (for a debugger).  The closing lines are CUnit's summary. */

typedef struct {
    unsigned tests_run, tests_failed, asserts, asserts_failed;
} at__totals;

/* Run tests[i] under a fresh CUnit registry in this process; print its
 * verdict and each failed assertion; returns the counts. */
static at__totals at__run_in_process(const char *suite_name, int i)
{
    at__totals r = {0, 0, 0, 0};
    if (CU_initialize_registry() != CUE_SUCCESS)
        exit(2);
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    if (!suite || !CU_add_test(suite, at__tests[i].name, at__tests[i].fn))
        exit(2);
    CU_run_all_tests(); /* the core runner: no output of its own */
    r.tests_run = CU_get_number_of_tests_run();
    r.tests_failed = CU_get_number_of_tests_failed();
    r.asserts = CU_get_number_of_asserts();
    r.asserts_failed = CU_get_number_of_failures();
    printf("  Test: %s ...%s\n", at__tests[i].name, r.tests_failed ? "FAILED" : "passed");
    unsigned n = 0;
    for (CU_pFailureRecord f = CU_get_failure_list(); f; f = f->pNext)
        printf("    %u. %s:%u  - %s\n", ++n, f->strFileName ? f->strFileName : "?",
               f->uiLineNumber, f->strCondition ? f->strCondition : "?");
    CU_cleanup_registry();
    return r;
}

static unsigned at__timeout_s(void)
{
    const char *e = getenv("AT_TEST_TIMEOUT");
    long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 ? (unsigned)v : 240;
}

/* Wait for the child, killing it after the timeout.  Its wait status, or
 * -1 when it timed out. */
static int at__wait_child(pid_t pid, unsigned timeout_s)
{
    struct timespec start, now, nap = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    const long long limit_ns = (long long)timeout_s * 1000000000ll;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return 0x7f00; /* lost: report as a failure */
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((long long)(now.tv_sec - start.tv_sec) * 1000000000ll +
                (now.tv_nsec - start.tv_nsec) >= limit_ns) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        nanosleep(&nap, NULL);
        if (nap.tv_nsec < 20000000)
            nap.tv_nsec *= 2;
    }
}

/* tests[i] in a child process; prints its verdict line. */
static at__totals at__run_forked(const char *suite_name, int i, unsigned timeout_s)
{
    at__totals r = {1, 1, 0, 0};
    int fds[2];
    fflush(NULL);
    if (pipe(fds) != 0)
        exit(2);
    pid_t pid = fork();
    if (pid < 0)
        exit(2);
    if (pid == 0) {
        close(fds[0]);
        at__totals c = at__run_in_process(suite_name, i);
        fflush(NULL);
        ssize_t w = write(fds[1], &c, sizeof c);
        _exit(w == (ssize_t)sizeof c ? 0 : 2);
    }
    close(fds[1]);
    int st = at__wait_child(pid, timeout_s);
    at__totals c;
    ssize_t got = read(fds[0], &c, sizeof c);
    close(fds[0]);
    if (st == -1)
        printf("  Test: %s ...FAILED: timed out after %u s (killed)\n", at__tests[i].name,
               timeout_s);
    else if (WIFSIGNALED(st))
        printf("  Test: %s ...FAILED: crashed with signal %d (%s)\n", at__tests[i].name,
               WTERMSIG(st), strsignal(WTERMSIG(st)));
    else if (got != (ssize_t)sizeof c)
        printf("  Test: %s ...FAILED: exited with status %d before reporting\n",
               at__tests[i].name, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    else
        r = c;
    return r;
}

static void at__print_summary(const at__totals *t, unsigned ntests, double secs)
{
    unsigned big = t->asserts > ntests ? t->asserts : ntests;
    int w = snprintf(NULL, 0, "%u", big);
    if (w < 6)
        w = 6;
    printf("\nRun Summary:    Type %*s %*s %*s Failed Inactive\n", w, "Total", w, "Ran",
           w, "Passed");
    printf("              suites %*u %*u %*s %6u %8u\n", w, 1u, w, 1u, w, "n/a", 0u, 0u);
    printf("               tests %*u %*u %*u %6u %8u\n", w, ntests, w, t->tests_run, w,
           t->tests_run - t->tests_failed, t->tests_failed, 0u);
    printf("             asserts %*u %*u %*u %6u %8s\n\n", w, t->asserts, w, t->asserts, w,
           t->asserts - t->asserts_failed, t->asserts_failed, "n/a");
    printf("Elapsed time = %8.3f seconds\n", secs);
}

int main(int argc, char **argv)
{
    const char *suite_name = argv[0];
    const char *slash = strrchr(suite_name, '/');
    suite_name = slash ? slash + 1 : suite_name;
    const char *nofork = getenv("AT_TEST_NOFORK");
    int forked = !(nofork && *nofork && *nofork != '0');
    unsigned timeout_s = at__timeout_s();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    at__totals tot = {0, 0, 0, 0};
    unsigned wanted_n = 0;
    printf("Suite: %s\n", suite_name);
    for (int i = 0; i < at__ntests; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strcmp(argv[a], at__tests[i].name) == 0)
                wanted = 1;
        if (!wanted)
            continue;
        wanted_n++;
        at__totals r;
        if (forked) {
            r = at__run_forked(suite_name, i, timeout_s);
        } else {
            r = at__run_in_process(suite_name, i);
        }
        tot.tests_run += r.tests_run;
        tot.tests_failed += r.tests_failed;
        tot.asserts += r.asserts;
        tot.asserts_failed += r.asserts_failed;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    at__print_summary(&tot, wanted_n, (double)(t1.tv_sec - t0.tv_sec) +
                                          (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (wanted_n == 0) {
        fprintf(stderr, "no test ran\n");
        return 1;
    }
    return tot.tests_failed || tot.asserts_failed ? 1 : 0;
}

#endif
