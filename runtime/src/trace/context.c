/* context.c - per-thread trace contexts and the descriptor's lists.
 *
 * Each thread that polls tasks gets one at_trace_context, registered in
 * asynctrace_debug.threads so a debugger finds every polling thread without
 * a TLS lookup.  A context is unregistered and freed when its thread exits
 * (pthread key destructor).  List changes happen under the registry lock;
 * a new node is fully initialised before the release store that publishes
 * it, so a reader never sees a half-built node. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "core/internal.h"

__thread at_trace_context *at__tls_context;

static pthread_mutex_t at__registry = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t at__context_key;
static pthread_once_t at__context_once = PTHREAD_ONCE_INIT;

void at__registry_lock(void) { pthread_mutex_lock(&at__registry); }
void at__registry_unlock(void) { pthread_mutex_unlock(&at__registry); }

void at__generation_bump(void)
{
    __atomic_add_fetch(&asynctrace_debug.generation, 1, __ATOMIC_RELEASE);
}

uint64_t at_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Monotonic time of the next refresh of the descriptor's clock pair. */
static uint64_t at__pair_next;

void at__record_clock_pair(void)
{
    struct timespec m0, r, m1;
    clock_gettime(CLOCK_MONOTONIC, &m0);
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    uint64_t a = (uint64_t)m0.tv_sec * 1000000000ull + (uint64_t)m0.tv_nsec;
    uint64_t b = (uint64_t)m1.tv_sec * 1000000000ull + (uint64_t)m1.tv_nsec;
    uint64_t real = (uint64_t)r.tv_sec * 1000000000ull + (uint64_t)r.tv_nsec;
    /* mono 0 marks the pair as being rewritten (docs/abi.md). */
    __atomic_store_n(&asynctrace_debug.clock_mono_ns, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&asynctrace_debug.clock_real_ns, real, __ATOMIC_RELEASE);
    __atomic_store_n(&asynctrace_debug.clock_mono_ns, a + (b - a) / 2, __ATOMIC_RELEASE);
}

void at__record_clock(uint64_t now)
{
    __atomic_store_n(&asynctrace_debug.clock_ns, now, __ATOMIC_RELAXED);
    uint64_t next = __atomic_load_n(&at__pair_next, __ATOMIC_RELAXED);
    if (now >= next && __atomic_compare_exchange_n(&at__pair_next, &next, now + 1000000000ull,
                                                   0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        at__record_clock_pair();
}

static void at__context_destroy(void *p)
{
    at_trace_context *c = p;
    at__registry_lock();
    AT__LIST_UNLINK(asynctrace_debug.threads, c, next, prev);
    at__generation_bump();
    at__registry_unlock();
    c->magic = AT_DEAD_MAGIC;
    at__tls_context = NULL;
    free(c);
}

static void at__context_key_init(void)
{
    pthread_key_create(&at__context_key, at__context_destroy);
}

at_trace_context *at__thread_context(void)
{
    at_trace_context *c = at__tls_context;
    if (c)
        return c;
    pthread_once(&at__context_once, at__context_key_init);
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->magic = AT_CONTEXT_MAGIC;
    c->role = AT_ROLE_BLOCK_ON;
    c->tid = (int32_t)syscall(SYS_gettid);
    c->worker = -1;
    c->registered = 1;
    at__registry_lock();
    AT__LIST_PUSH_HEAD(asynctrace_debug.threads, c, next, prev);
    at__generation_bump();
    at__registry_unlock();
    at__tls_context = c;
    pthread_setspecific(at__context_key, c);
    return c;
}

uint64_t at_current_task_id(void)
{
    at_trace_context *c = at__tls_context;
    return c && c->current ? c->current->id : 0;
}

at_task *at_task_current(void)
{
    at_trace_context *c = at__tls_context;
    return c ? c->current : NULL;
}

at_runtime *at_runtime_current(void)
{
    at_trace_context *c = at__tls_context;
    return c && c->current ? c->current->runtime : NULL;
}
