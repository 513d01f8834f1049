/* cunit_main.h - one-place test registration for the CUnit unit tests.
 *
 * A test file includes this header, writes tests with AT_TEST(name) { ... }
 * (each registers itself through a constructor, so there is no second list
 * to keep in step), and gets a main() that runs them all in one suite named
 * after the file, prints CUnit's summary and exits non-zero on any failure.
 * Pass test names as arguments to run only those. */
#ifndef AT_CUNIT_MAIN_H
#define AT_CUNIT_MAIN_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    const char *suite_name = argv[0];
    const char *slash = strrchr(suite_name, '/');
    CU_pSuite suite = CU_add_suite(slash ? slash + 1 : suite_name, NULL, NULL);
    if (!suite)
        return 2;
    for (int i = 0; i < at__ntests; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strcmp(argv[a], at__tests[i].name) == 0)
                wanted = 1;
        if (wanted && !CU_add_test(suite, at__tests[i].name, at__tests[i].fn))
            return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (ran == 0) {
        fprintf(stderr, "no test ran\n");
        return 1;
    }
    return failed ? 1 : 0;
}

#endif
