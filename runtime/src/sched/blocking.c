/* blocking.c - the spawn_blocking pool: one per runtime, created on first
 * use, threads started on demand up to AT_BLOCKING_MAX_THREADS, an idle
 * thread exits after AT_BLOCKING_KEEP_ALIVE_NS.
 *
 * A job is a small heap record shared by the future and the pool (two
 * references, counted under the job's spin lock), so either side may go
 * first: a dropped future leaves a running job to finish and be freed by
 * the pool; a queued job whose future was dropped is skipped.
 *
 * Threads are joinable: one that exits on keep-alive puts itself on the
 * pool's exited list and is joined by the next thread start or by the
 * shutdown, which also waits for running jobs and joins every thread, so
 * no thread outlives at_runtime_free. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sched/mt_internal.h"

enum { AT__JOB_QUEUED = AT_JOB_QUEUED, AT__JOB_RUNNING = AT_JOB_RUNNING,
       AT__JOB_DONE = AT_JOB_DONE, AT__JOB_DROPPED = AT_JOB_DROPPED };

/* The debugger-visible head (at_blocking_job: magic, state, id, the LWP
 * running it) comes first: a blocking wait's object points at it. */
typedef struct at__blocking_job {
    at_blocking_job pub;           /* state: AT__JOB_* (job lock) */
    struct at__blocking_job *next; /* pool queue (pool lock) */
    at_blocking_fn fn;
    void *arg;
    void *result;
    at_waker waker;
    int refs;                      /* future + pool (job lock) */
    int abandoned;                 /* the future is gone (job lock) */
    _Atomic uint32_t lock;
} at__blocking_job;

typedef struct at__pool_thread {
    struct at__pool_thread *next;
    pthread_t thread;
    struct at__pool *pool;
} at__pool_thread;

typedef struct at__pool {
    at_runtime *rt;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    at__blocking_job *head, *tail;
    unsigned threads, idle;
    int shutdown;
    uint64_t next_job_id;
    at__pool_thread *running;      /* live threads */
    at__pool_thread *exited;       /* finished, to be joined */
} at__pool;

static void at__job_unref_unlock(at__blocking_job *j)
{
    int last = --j->refs == 0;
    at__spin_unlock(&j->lock);
    if (last) {
        j->pub.magic = AT_DEAD_MAGIC;
        free(j);
    }
}

/* ---- Pool threads ---- */

static void at__pool_unlink(at__pool_thread **list, at__pool_thread *pt)
{
    for (at__pool_thread **p = list; *p; p = &(*p)->next)
        if (*p == pt) {
            *p = pt->next;
            return;
        }
}

static void *at__pool_main(void *arg)
{
    at__pool_thread *pt = arg;
    at__pool *p = pt->pool;
    at_trace_context *tcx = at__thread_context();
    if (tcx) {
        tcx->role = AT_ROLE_BLOCKING;
        tcx->worker = -1;
        __atomic_store_n(&tcx->runtime, p->rt, __ATOMIC_RELEASE);
        at__generation_bump();
    }
    pthread_mutex_lock(&p->lock);
    for (;;) {
        at__blocking_job *j = p->head;
        if (!j) {
            if (p->shutdown)
                break;
            uint64_t deadline = at_now_ns() + AT_BLOCKING_KEEP_ALIVE_NS;
            struct timespec ts = {(time_t)(deadline / AT_SEC), (long)(deadline % AT_SEC)};
            p->idle++;
            int rc = pthread_cond_timedwait(&p->cv, &p->lock, &ts);
            p->idle--;
            if (rc != 0 && !p->head)
                break; /* idle for the keep-alive time */
            continue;
        }
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);

        at__spin_lock(&j->lock);
        if (j->abandoned) {
            j->pub.state = AT__JOB_DROPPED;
            at__job_unref_unlock(j);
        } else {
            j->pub.state = AT__JOB_RUNNING;
            atomic_store_explicit(&j->pub.tid, tcx ? tcx->tid : 0, memory_order_relaxed);
            at__spin_unlock(&j->lock);
            if (tcx)
                __atomic_store_n(&tcx->poll_start_ns, at_now_ns(), __ATOMIC_RELAXED);
            void *result = j->fn(j->arg);
            if (tcx)
                __atomic_store_n(&tcx->poll_start_ns, 0, __ATOMIC_RELAXED);
            at__spin_lock(&j->lock);
            atomic_store_explicit(&j->pub.tid, 0, memory_order_relaxed);
            j->result = result;
            j->pub.state = AT__JOB_DONE;
            at_waker wk = j->waker;
            j->waker.task = NULL;
            at__job_unref_unlock(j);
            at_waker_wake(&wk);
        }
        pthread_mutex_lock(&p->lock);
    }
    p->threads--;
    at__pool_unlink(&p->running, pt);
    pt->next = p->exited;
    p->exited = pt;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->lock);
    if (tcx) {
        __atomic_store_n(&tcx->runtime, NULL, __ATOMIC_RELEASE);
        tcx->role = AT_ROLE_BLOCK_ON;
    }
    return NULL;
}

/* Join threads that have exited.  Pool lock held; dropped meanwhile. */
static void at__pool_reap_locked(at__pool *p)
{
    while (p->exited) {
        at__pool_thread *pt = p->exited;
        p->exited = pt->next;
        pthread_mutex_unlock(&p->lock);
        pthread_join(pt->thread, NULL);
        free(pt);
        pthread_mutex_lock(&p->lock);
    }
}

/* Start a thread (pool lock held).  0 or AT_ENOMEM. */
static int at__pool_spawn_locked(at__pool *p)
{
    at__pool_thread *pt = calloc(1, sizeof(*pt));
    if (!pt)
        return AT_ENOMEM;
    pt->pool = p;
    if (pthread_create(&pt->thread, NULL, at__pool_main, pt) != 0) {
        free(pt);
        return AT_ENOMEM;
    }
    char name[16];
    snprintf(name, sizeof name, "asynctrace-b%u", p->threads);
    pthread_setname_np(pt->thread, name);
    pt->next = p->running;
    p->running = pt;
    p->threads++;
    return 0;
}

static at__pool *at__pool_get(at_runtime *rt)
{
    at__pool *p = __atomic_load_n((at__pool **)&at__rt(rt)->blocking, __ATOMIC_ACQUIRE);
    if (p)
        return p;
    pthread_mutex_lock(&at__rt(rt)->lock);
    p = at__rt(rt)->blocking;
    if (!p && (p = calloc(1, sizeof(*p)))) {
        p->rt = rt;
        p->next_job_id = 1;
        pthread_mutex_init(&p->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cv, &ca);
        pthread_condattr_destroy(&ca);
        __atomic_store_n((at__pool **)&at__rt(rt)->blocking, p, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&at__rt(rt)->lock);
    return p;
}

/* Queue a job; 0, AT_ESHUTDOWN or AT_ENOMEM (no thread could start). */
static int at__pool_submit(at__pool *p, at__blocking_job *j)
{
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    if (p->shutdown) {
        pthread_mutex_unlock(&p->lock);
        return AT_ESHUTDOWN;
    }
    at__pool_reap_locked(p);
    j->pub.id = p->next_job_id++;
    j->next = NULL;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    if (p->idle)
        pthread_cond_signal(&p->cv);
    else if (p->threads < AT_BLOCKING_MAX_THREADS)
        rc = at__pool_spawn_locked(p);
    if (rc < 0 && !p->threads) { /* nobody will ever run it */
        p->head = p->tail = NULL;
    } else {
        rc = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void at__blocking_free(at_runtime *rt)
{
    at__pool *p = at__rt(rt)->blocking;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->shutdown = 1;
    /* Queued jobs never run: their futures (if any are left) see
     * AT_ESHUTDOWN. */
    while (p->head) {
        at__blocking_job *j = p->head;
        p->head = j->next;
        at__spin_lock(&j->lock);
        j->pub.state = AT__JOB_DROPPED;
        at_waker wk = j->waker;
        j->waker.task = NULL;
        at__job_unref_unlock(j);
        at_waker_wake(&wk);
    }
    p->tail = NULL;
    pthread_cond_broadcast(&p->cv);
    while (p->threads)
        pthread_cond_wait(&p->cv, &p->lock);
    at__pool_reap_locked(p);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cv);
    at__rt(rt)->blocking = NULL;
    free(p);
}

/* ---- The future ---- */

AT_NOINLINE static at_poll_result at__blocking_poll(at_frame *fr, at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_blocking_fut *f = (at_blocking_fut *)fr;
    at__blocking_job *j = f->job;
    if (!j) {
        at_runtime *rt = cx->task ? cx->task->runtime : NULL;
        at__pool *p = rt ? at__pool_get(rt) : NULL;
        j = p ? calloc(1, sizeof(*j)) : NULL;
        if (!j) {
            f->status = rt ? AT_ENOMEM : AT_ESHUTDOWN;
            return AT_READY;
        }
        j->pub.magic = AT_JOB_MAGIC;
        j->fn = f->fn;
        j->arg = f->arg;
        j->refs = 2;
        j->waker = at_waker_clone(cx);
        int rc = at__pool_submit(p, j);
        if (rc < 0) {
            at_waker_drop(&j->waker);
            free(j);
            f->status = rc;
            return AT_READY;
        }
        f->job = j;
        f->leaf.wait.object = &j->pub;
        f->leaf.wait.detail[0] = j->pub.id;
        at__leaf_waiting(&f->leaf);
        return AT_PENDING;
    }
    at__spin_lock(&j->lock);
    uint32_t state = j->pub.state;
    if (state != AT__JOB_DONE && state != AT__JOB_DROPPED) {
        at__spin_unlock(&j->lock);
        return AT_PENDING;
    }
    f->result = j->result;
    f->status = state == AT__JOB_DONE ? 0 : AT_ESHUTDOWN;
    f->job = NULL;
    at__job_unref_unlock(j);
    return AT_READY;
}

static void at__blocking_drop(at_frame *fr)
{
    at_blocking_fut *f = (at_blocking_fut *)fr;
    at__blocking_job *j = f->job;
    if (!j)
        return;
    f->job = NULL;
    at__spin_lock(&j->lock);
    j->abandoned = 1;
    at_waker wk = j->waker;
    j->waker.task = NULL;
    at__job_unref_unlock(j);
    at_waker_drop(&wk);
}

AT__LEAF_SITE(at__blocking_site, "at_spawn_blocking", at__blocking_poll, at__blocking_drop);

at_frame *at_spawn_blocking(at_blocking_fut *f, at_blocking_fn fn, void *arg)
{
    f->fn = fn;
    f->arg = arg;
    f->result = NULL;
    f->status = 0;
    f->job = NULL;
    return at__leaf_init(&f->leaf, &at__blocking_site, AT_RES_BLOCKING, NULL);
}
