/* scenario.c - the checkpoint protocol of scenario programs (see
 * scenario.h and docs/harness.md).
 *
 * The checkpoint thread never polls a task and never takes a runtime lock:
 * it watches the runtimes through the snapshot walker (the same reads a
 * debugger makes), asks for live dumps through the public API, and once the
 * harness is told, sleeps in pause() forever. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "scenario.h"

#define SCN_SETTLE_TIMEOUT_NS (15 * AT_SEC)
#define SCN_DUMP_TIMEOUT_NS (5 * AT_SEC)

/* The harness's fd, or -1 when run by hand. */
static int scn_fd(void)
{
    const char *s = getenv("ASYNCTRACE_HARNESS_FD");
    return s && *s ? atoi(s) : -1;
}

static void scn_tell(const char *line)
{
    int fd = scn_fd();
    if (fd < 0)
        return;
    size_t n = strlen(line), off = 0;
    while (off < n) {
        ssize_t w = write(fd, line + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

void scn_fail(const char *fmt, ...)
{
    char msg[400], line[420];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    fprintf(stderr, "scenario failed: %s\n", msg);
    snprintf(line, sizeof line, "fail %s\n", msg);
    scn_tell(line);
    _exit(1);
}

void scn_skip(const char *reason)
{
    char line[300];
    printf("skip: %s\n", reason);
    fflush(stdout);
    snprintf(line, sizeof line, "skip %s\n", reason);
    scn_tell(line);
    _exit(77);
}

at_runtime *scn_runtime(int mt, unsigned workers)
{
    at_runtime_options o = {.flavor = mt ? AT_FLAVOR_MULTI_THREAD : AT_FLAVOR_CURRENT_THREAD,
                            .workers = mt ? workers : 0,
                            .name = "scenario"};
    at_runtime *rt = at_runtime_new(&o);
    if (!rt && mt)
        scn_skip("multi-thread flavor not available yet");
    if (!rt)
        scn_fail("at_runtime_new failed");
    return rt;
}

static void scn_nap(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / AT_SEC), (long)(ns % AT_SEC)};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

/* Signal the checkpoint and stay put. */
static void scn_ready(int live) __attribute__((noreturn));
static void scn_ready(int live)
{
    if (scn_fd() >= 0) {
        scn_tell(live ? "ready live\n" : "ready offline\n");
    } else {
        printf("ready %d\n", (int)getpid());
        fflush(stdout);
    }
    for (;;)
        pause();
}

/* ---- Quiet checkpoint -------------------------------------------------------- */

typedef struct scn_watch {
    at_runtime *rts[8];
    uint64_t ntasks[8];
    int n;
} scn_watch;

/* Does the await tree under f wait for a timer due before `soon`? */
static const at_dump_frame *scn_timer_due(const at_dump_frame *f, uint64_t soon, int depth)
{
    if (!f || depth > 256)
        return NULL;
    if (f->resource && f->resource->kind == AT_RES_SLEEP && f->resource->detail[0] < soon)
        return f;
    for (size_t i = 0; i < f->nchildren; i++) {
        const at_dump_frame *hit = scn_timer_due(&f->children[i], soon, depth + 1);
        if (hit)
            return hit;
    }
    return NULL;
}

/* Set by scn_allow_scheduled(): a hung scene whose point is starvation. */
static int scn_scheduled_ok;

void scn_allow_scheduled(void)
{
    scn_scheduled_ok = 1;
}

/* Is runtime r quiet?  Every task idle, complete or cancelled (or, with
 * allow_running, running: a hung scene; and scheduled too after
 * scn_allow_scheduled), no idle task waiting for a timer
 * due soon, and (unless allow_running) no thread polling one of its tasks.
 * Adds its tasks' poll counts to *polls; explains a no in why. */
static int scn_runtime_quiet(const at_dump *d, const at_dump_runtime *r, int allow_running,
                             uint64_t *polls, char *why, size_t len)
{
    /* A timer due within a minute will move the scene on: a scene's sleeps
     * are an hour long.  (Poll counts alone would miss a timer that a
     * loaded machine fires late.) */
    uint64_t soon = at_now_ns() + 60 * AT_SEC;
    for (size_t k = 0; k < r->ntasks; k++) {
        const at_dump_task *t = &r->tasks[k];
        *polls += t->polls;
        const at_dump_frame *due = scn_timer_due(t->await, soon, 0);
        if (due && t->state == AT_TASK_IDLE) {
            snprintf(why, len, "task %llu \"%s\" waits for a timer due soon (%s)",
                     (unsigned long long)t->id, t->name, due->function ? due->function : "?");
            return 0;
        }
        if (t->state != AT_TASK_IDLE && t->state != AT_TASK_COMPLETE &&
            t->state != AT_TASK_CANCELLED &&
            !(allow_running && t->state == AT_TASK_RUNNING) &&
            !(allow_running && scn_scheduled_ok && t->state == AT_TASK_SCHEDULED)) {
            snprintf(why, len, "task %llu \"%s\" is not idle (state %u)",
                     (unsigned long long)t->id, t->name, t->state);
            return 0;
        }
    }
    for (size_t k = 0; k < d->nthreads && !allow_running; k++)
        if (d->threads[k].runtime_id == r->id && d->threads[k].current_task_id) {
            snprintf(why, len, "a thread is polling task %llu",
                     (unsigned long long)d->threads[k].current_task_id);
            return 0;
        }
    return 1;
}

/* Is the snapshot quiet for the watched runtimes (w->n == 0: every runtime,
 * hung scene)?  Sets *polls to the sum of their tasks' poll counts. */
static int scn_quiet(const scn_watch *w, const at_dump *d, uint64_t *polls, char *why,
                     size_t len)
{
    *polls = 0;
    if (w->n == 0) {
        for (size_t k = 0; k < d->nruntimes; k++)
            if (!scn_runtime_quiet(d, &d->runtimes[k], 1, polls, why, len))
                return 0;
        return 1;
    }
    for (int i = 0; i < w->n; i++) {
        uint64_t id = w->rts[i]->id;
        const at_dump_runtime *r = NULL;
        for (size_t k = 0; k < d->nruntimes; k++)
            if (d->runtimes[k].id == id)
                r = &d->runtimes[k];
        if (!r) {
            snprintf(why, len, "runtime %llu not in the snapshot", (unsigned long long)id);
            return 0;
        }
        if (r->ntasks != w->ntasks[i]) {
            snprintf(why, len, "runtime %llu has %zu tasks, waiting for %llu",
                     (unsigned long long)id, r->ntasks, (unsigned long long)w->ntasks[i]);
            return 0;
        }
        if (!scn_runtime_quiet(d, r, 0, polls, why, len))
            return 0;
    }
    return 1;
}

/* Wait until quiet twice in a row 5 ms apart with no poll in between. */
static void scn_settle(const scn_watch *w, const char *when)
{
    uint64_t deadline = at_now_ns() + SCN_SETTLE_TIMEOUT_NS, last = UINT64_MAX;
    char why[256] = "no snapshot";
    for (;;) {
        at_dump *d = at_snapshot_take();
        if (!d)
            scn_fail("at_snapshot_take: out of memory");
        uint64_t polls;
        int q = scn_quiet(w, d, &polls, why, sizeof why);
        at_dump_free(d);
        if (q && polls == last)
            return;
        last = q ? polls : UINT64_MAX;
        if (at_now_ns() > deadline)
            scn_fail("never settled %s: %s", when, why);
        scn_nap(5 * AT_MS);
    }
}

static void (*scn_live_hook)(at_dump *d);

void scn_set_live_hook(void (*hook)(at_dump *d))
{
    scn_live_hook = hook;
}

static void scn_write_live(const scn_watch *w)
{
    const char *path = getenv("ASYNCTRACE_HARNESS_DUMP");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        scn_fail("cannot write the live dump to %s: %s", path, strerror(errno));
    for (int i = 0; i < w->n; i++) {
        at_dump *d = NULL;
        int rc = at_dump_runtime_tasks(w->rts[i], SCN_DUMP_TIMEOUT_NS, &d);
        if (rc)
            scn_fail("at_dump_runtime_tasks(runtime %llu) returned %d",
                     (unsigned long long)w->rts[i]->id, rc);
        if (scn_live_hook)
            scn_live_hook(d);
        if (at_dump_write_json(d, f))
            scn_fail("at_dump_write_json: %s", strerror(errno));
        fputc('\n', f);
        at_dump_free(d);
    }
    if (fclose(f))
        scn_fail("writing the live dump: %s", strerror(errno));
}

static int scn_no_live;

void scn_offline_only(void)
{
    scn_no_live = 1;
}

static void *scn_quiet_thread(void *arg)
{
    scn_watch *w = arg;
    scn_settle(w, "before the live dump");
    if (scn_fd() >= 0 && !scn_no_live) {
        scn_write_live(w);
        /* The dump re-polled every task: let them settle again. */
        scn_settle(w, "after the live dump");
    }
    scn_ready(!scn_no_live);
}

static void scn_start(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &a, fn, arg))
        scn_fail("cannot start the checkpoint thread");
    pthread_attr_destroy(&a);
}

void scn_checkpoint_quiet(at_runtime *const *rts, const uint64_t *ntasks, int n)
{
    static scn_watch w;
    if (n < 1 || n > 8)
        scn_fail("scn_checkpoint_quiet: 1 to 8 runtimes");
    for (int i = 0; i < n; i++) {
        w.rts[i] = rts[i];
        w.ntasks[i] = ntasks[i];
    }
    w.n = n;
    scn_start(scn_quiet_thread, &w);
}

void scn_checkpoint_quiet1(at_runtime *rt, uint64_t ntasks)
{
    scn_checkpoint_quiet(&rt, &ntasks, 1);
}

/* ---- Hung checkpoint ------------------------------------------------------- */

static _Atomic int scn_hung_tid;
static int scn_hung_in_syscall;

void scn_hang_mark(void)
{
    atomic_store(&scn_hung_tid, (int)syscall(SYS_gettid));
}

/* Is thread tid of this process inside a system call?  (/proc's syscall
 * file starts with the call number then, "running" otherwise.) */
static int scn_in_syscall(int tid)
{
    char path[64], buf[64] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n > 0 && buf[0] >= '0' && buf[0] <= '9';
}

static void *scn_hung_thread(void *arg)
{
    (void)arg;
    uint64_t deadline = at_now_ns() + SCN_SETTLE_TIMEOUT_NS;
    int tid;
    while (!(tid = atomic_load(&scn_hung_tid))) {
        if (at_now_ns() > deadline)
            scn_fail("no task reached its hang (scn_hang_mark never called)");
        scn_nap(1 * AT_MS);
    }
    if (scn_hung_in_syscall) {
        int stable = 0;
        while (stable < 3) { /* three looks 2 ms apart */
            stable = scn_in_syscall(tid) ? stable + 1 : 0;
            if (at_now_ns() > deadline)
                scn_fail("thread %d never blocked in a system call", tid);
            scn_nap(2 * AT_MS);
        }
    } else {
        scn_nap(20 * AT_MS);
    }
    /* The rest of the scene (other threads of a multi-thread runtime) must
     * have settled too. */
    static const scn_watch everything = {.n = 0};
    scn_settle(&everything, "around the hang");
    scn_ready(0);
}

void scn_checkpoint_hung(int in_syscall)
{
    scn_hung_in_syscall = in_syscall;
    scn_start(scn_hung_thread, NULL);
}

/* ---- Waiting for the scene to form ------------------------------------------ */

AT_ASYNC_FN(scn_until, scn_until_state)
{
    AT_BEGIN(scn_until_state);
    while (!self->pred(self->arg))
        AT_AWAIT(at_sleep(&self->nap, 1 * AT_MS));
    AT_END;
}

at_frame *scn_until(scn_until_state *s, int (*pred)(void *), void *arg)
{
    s->pred = pred;
    s->arg = arg;
    return AT_START(s, scn_until);
}
