/* seed.c - seeded schedules: with ASYNCTRACE_SCHED_SEED set, a runtime
 * picks the next task to poll at random among those ready, from a
 * generator seeded by the seed and the runtime's id, instead of first in,
 * first out (docs/runtime.md, "Seeded schedules").  On the current-thread
 * runtime that is the only source of order, so a seed replays a schedule
 * exactly; multi-thread workers use it to shuffle their own queues (best
 * effort: threads still race).  Without a seed the schedulers pay one
 * predictable branch per task they take. */
#include <stdlib.h>

#include "sched/sched.h"

/* splitmix64: spreads a seed and a stream number over the whole state. */
static uint64_t at__mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t at__sched_seed_state(uint64_t stream)
{
    const char *s = getenv("ASYNCTRACE_SCHED_SEED");
    if (!s || !*s)
        return 0;
    char *end;
    unsigned long long seed = strtoull(s, &end, 10);
    if (*end || *s == '-')
        return 0; /* not a number: no seed (docs say so) */
    uint64_t state = at__mix(at__mix((uint64_t)seed) ^ stream);
    return state ? state : 1;
}

uint64_t at__sched_rand(uint64_t *state)
{
    /* xorshift64*: never zero from a non-zero state. */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

void at__sched_seed(at_runtime *rt)
{
    at__rt(rt)->sched_rng = at__sched_seed_state(rt->id);
}

at_task *at__runq_pop_seeded(at_runtime *rt)
{
    at__runtime *rs = at__rt(rt);
    size_t n = 0;
    for (at_task *t = rs->run_head; t; t = t->run_next)
        n++;
    if (!n)
        return NULL;
    size_t k = (size_t)(at__sched_rand(&rs->sched_rng) % n);
    at_task *prev = NULL, *t = rs->run_head;
    while (k--) {
        prev = t;
        t = t->run_next;
    }
    if (prev)
        prev->run_next = t->run_next;
    else
        rs->run_head = t->run_next;
    if (rs->run_tail == t)
        rs->run_tail = prev;
    t->run_next = NULL;
    return t;
}
