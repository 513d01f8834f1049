/* broken_tests.c - deliberately failing, crashing and hanging tests: the
 * unit-test runner (cunit_main.h) must report each by name and still run
 * the others (tests/unit/runner/check_runner.sh). */
#include "cunit_main.h"

AT_TEST(passes_first) { CU_ASSERT(1); }
AT_TEST(fails_an_assert) { AT_ASSERT_EQ_INT(1, 2); }
AT_TEST(crashes)
{
    volatile int *p = 0;
    *p = 1;
}
AT_TEST(hangs)
{
    for (;;)
        pause();
}
AT_TEST(passes_last)
{
    CU_ASSERT(1);
    CU_ASSERT(1);
}
