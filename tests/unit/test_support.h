/* test_support.h - small helpers the multi-thread unit tests share: the
 * stress scale of sanitizer runs and a checked multi-thread runtime. */
#ifndef AT_TEST_SUPPORT_H
#define AT_TEST_SUPPORT_H

#include <stdlib.h>

#include "asynctrace.h"
#include "cunit_main.h"

/* n divided by ASYNCTRACE_TEST_SCALE (set by the TSan runs), or n. */
static inline unsigned scale(unsigned n)
{
    const char *s = getenv("ASYNCTRACE_TEST_SCALE");
    unsigned d = s ? (unsigned)atoi(s) : 1;
    return d > 1 ? n / d : n;
}

/* A multi-thread runtime of `workers` workers named `name` (the test stops
 * if it cannot be made). */
static inline at_runtime *mt_runtime(unsigned workers, const char *name)
{
    at_runtime_options o = {AT_FLAVOR_MULTI_THREAD, workers, name};
    at_runtime *rt = at_runtime_new(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    return rt;
}

#endif
