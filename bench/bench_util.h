/* bench_util.h - small helpers shared by the C benchmarks: a monotonic
 * clock, a thread CPU clock, the median of a run series, argument parsing, resident memory.
 * Header-only so each benchmark stays one file. */
#ifndef ASYNCTRACE_BENCH_UTIL_H
#define ASYNCTRACE_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_RUNS 64

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread: an A/B comparison of single-threaded
 * code is then not skewed by other processes taking the core. */
static inline uint64_t bench_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void bench_die(const char *msg)
{
    fprintf(stderr, "bench: %s\n", msg);
    exit(1);
}

static inline int bench__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), bench__cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* "--name VALUE" from argv, or the default. */
static inline const char *bench_arg_str(int argc, char **argv, const char *name,
                                        const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static inline int bench_arg_int(int argc, char **argv, const char *name, int def)
{
    const char *s = bench_arg_str(argc, argv, name, NULL);
    return s ? atoi(s) : def;
}

/* Resident set size in bytes (from /proc/self/statm). */
static inline uint64_t bench_rss_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

#endif /* ASYNCTRACE_BENCH_UTIL_H */
