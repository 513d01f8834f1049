/* dump_signal.c - write a dump of every runtime when a signal arrives.
 *
 * The signal handler only writes one byte to a pipe (async-signal-safe).
 * A watcher thread reads it, asks every runtime for a live dump at its next
 * safe point, waits for them up to the timeout (default 1 s), and writes one
 * document: the live runtimes as dumped, and for each runtime that did not
 * reach a safe point in time its tasks from a snapshot taken without
 * polling, each marked "not-polled: ..." and a dump-level note saying so.
 * The file is written safely (dump_file.c) and renamed into place.
 *
 * Opt-in: at_dump_signal_install(), or ASYNCTRACE_DUMP_SIGNAL (name or
 * number) with ASYNCTRACE_DUMP_FILE and ASYNCTRACE_DUMP_TIMEOUT_MS, read
 * when the first runtime is created. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/trace_internal.h"

#define AT__SIGNAL_DEFAULT_TIMEOUT (1 * AT_SEC)
#define AT__WATCHER_STOP 'q'
#define AT__WATCHER_DUMP 'd'

static pthread_mutex_t at__sig_lock = PTHREAD_MUTEX_INITIALIZER;
static int at__sig_pipe[2] = {-1, -1};
static int at__sig_no;
static char *at__sig_path;
static struct sigaction at__sig_old;
static pthread_t at__sig_watcher;
static int at__sig_running;
static uint64_t at__sig_timeout = AT__SIGNAL_DEFAULT_TIMEOUT;
static uint64_t at__sig_count;

static void at__sig_handler(int signo)
{
    (void)signo;
    int saved = errno;
    char b = AT__WATCHER_DUMP;
    ssize_t r = write(at__sig_pipe[1], &b, 1); /* full pipe: a dump is due anyway */
    (void)r;
    errno = saved;
}

/* ---- Building the document ---- */

typedef struct at__sig_part {
    at_dump_request *req; /* NULL when the request could not be queued */
    uint64_t runtime_id;
    at_dump *live;        /* the live dump, or NULL */
    int status;
} at__sig_part;

static int at__cmp_runtime_id(const void *a, const void *b)
{
    const at_dump_runtime *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Request a dump from every runtime (under the registry lock, so none is
 * freed before its request is queued; at_runtime_free completes it). */
static at__sig_part *at__sig_request_all(size_t *n)
{
    at__registry_lock();
    size_t cap = 0;
    for (at_runtime *rt = asynctrace_debug.runtimes; rt; rt = rt->next)
        cap++;
    at__sig_part *parts = calloc(cap ? cap : 1, sizeof(*parts));
    size_t k = 0;
    for (at_runtime *rt = asynctrace_debug.runtimes; rt && parts; rt = rt->next) {
        at__sig_part *p = &parts[k++];
        p->runtime_id = rt->id;
        p->req = calloc(1, sizeof(*p->req));
        if (!p->req) {
            p->status = AT_ENOMEM;
            continue;
        }
        p->req->runtime = rt;
        p->req->runtime_id = rt->id;
        p->status = at__dump_request_submit(p->req);
        if (p->status < 0) {
            free(p->req);
            p->req = NULL;
        }
    }
    at__registry_unlock();
    *n = parts ? k : 0;
    return parts;
}

static void at__sig_collect(at__sig_part *parts, size_t n, uint64_t timeout)
{
    uint64_t deadline = at_now_ns() + timeout;
    for (size_t i = 0; i < n; i++) {
        at__sig_part *p = &parts[i];
        if (!p->req)
            continue;
        if (at__dump_request_wait(p->req, deadline) == 0) {
            p->live = p->req->result;
            p->status = p->req->status;
            free(p->req);
        } else {
            p->status = AT_ETIMEDOUT;
            if (!p->req->abandoned)
                free(p->req);
        }
        p->req = NULL;
    }
}

/* One document from the parts: a view whose runtimes point into the parts'
 * and the snapshot's memory (freed after writing, with them). */
static at_dump *at__sig_merge(at__sig_part *parts, size_t n, at_dump **snap_out,
                              uint64_t timeout)
{
    at_dump *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->version = AT_TRACE_FORMAT_VERSION;
    m->clock = "live";
    m->now_ns = at_now_ns();
    m->generation = asynctrace_debug.generation;
    size_t nlive = 0;
    for (size_t i = 0; i < n; i++)
        nlive += parts[i].live != NULL;
    at_dump *snap = nlive < n || n == 0 ? at_snapshot_take() : NULL;
    *snap_out = snap;
    m->source = nlive ? "live" : "snapshot";
    m->runtimes = at_dump_alloc(m, (n ? n : 1) * sizeof(at_dump_runtime));
    for (size_t i = 0; i < n && m->runtimes; i++) {
        at__sig_part *p = &parts[i];
        if (p->live) {
            for (size_t r = 0; r < p->live->nruntimes; r++)
                m->runtimes[m->nruntimes++] = p->live->runtimes[r];
            for (size_t e = 0; e < p->live->nerrors; e++)
                at_dump_note(m, "%s", p->live->errors[e]);
            continue;
        }
        const char *reason =
            p->status == AT_ETIMEDOUT
                ? at_dump_printf(m, "runtime %llu did not reach a safe point within %llu ms",
                                 (unsigned long long)p->runtime_id,
                                 (unsigned long long)(timeout / AT_MS))
                : at_dump_printf(m, "runtime %llu could not be dumped live (error %d)",
                                 (unsigned long long)p->runtime_id, p->status);
        const char *why = at_dump_printf(m, "not-polled: %s", reason);
        at_dump_note(m, "%s; its tasks come from a snapshot taken without polling", reason);
        for (size_t r = 0; snap && r < snap->nruntimes; r++) {
            if (snap->runtimes[r].id != p->runtime_id)
                continue;
            at_dump_runtime *sr = &snap->runtimes[r];
            for (size_t t = 0; t < sr->ntasks; t++)
                sr->tasks[t].trace_note = why;
            m->runtimes[m->nruntimes++] = *sr;
        }
    }
    if (m->nruntimes)
        qsort(m->runtimes, m->nruntimes, sizeof(at_dump_runtime), at__cmp_runtime_id);
    /* Threads: the process-wide list of the most complete source. */
    const at_dump *tsrc = snap;
    for (size_t i = 0; !tsrc && i < n; i++)
        tsrc = parts[i].live;
    if (tsrc) {
        m->threads = tsrc->threads;
        m->nthreads = tsrc->nthreads;
    }
    if (snap)
        for (size_t e = 0; e < snap->nerrors; e++)
            at_dump_note(m, "%s", snap->errors[e]);
    if (!n)
        at_dump_note(m, "no runtime exists in this process");
    return m;
}

static int at__ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void at__sig_write(const char *path, uint64_t timeout)
{
    size_t n = 0;
    at__sig_part *parts = at__sig_request_all(&n);
    at__sig_collect(parts, n, timeout);
    at_dump *snap = NULL;
    at_dump *m = at__sig_merge(parts, n, &snap, timeout);
    int rc = m ? at__dump_write_file(m, path, at__ends_with(path, ".txt")) : -ENOMEM;
    if (rc == 0)
        __atomic_add_fetch(&at__sig_count, 1, __ATOMIC_RELEASE);
    else
        fprintf(stderr, "asynctrace: cannot write the dump to %s: %s\n", path, strerror(-rc));
    at_dump_free(m);
    at_dump_free(snap);
    for (size_t i = 0; i < n; i++)
        at_dump_free(parts[i].live);
    free(parts);
}

/* ---- Watcher thread ---- */

static void *at__sig_watch(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (;;) {
        char b;
        ssize_t r = read(fd, &b, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || b == AT__WATCHER_STOP)
            return NULL;
        pthread_mutex_lock(&at__sig_lock);
        char *path = at__sig_path ? strdup(at__sig_path) : NULL;
        uint64_t timeout = at__sig_timeout;
        pthread_mutex_unlock(&at__sig_lock);
        if (path)
            at__sig_write(path, timeout);
        free(path);
    }
}

/* Signals that mean the process is broken (or cannot be caught): taking
 * one for dumps would turn a real crash into a spin with no core. */
static int at__is_crash_signal(int signo)
{
    switch (signo) {
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGABRT:
    case SIGTRAP: case SIGSYS: case SIGKILL: case SIGSTOP:
        return 1;
    default:
        return 0;
    }
}

int at_dump_signal_install(int signo, const char *path)
{
    if (signo <= 0 || signo >= NSIG || at__is_crash_signal(signo) || !path || !*path)
        return AT_EINVAL;
    char *p = strdup(path);
    if (!p)
        return AT_ENOMEM;
    pthread_mutex_lock(&at__sig_lock);
    if (!at__sig_running) {
        if (pipe2(at__sig_pipe, O_CLOEXEC) < 0) {
            pthread_mutex_unlock(&at__sig_lock);
            free(p);
            return AT_ENOMEM;
        }
        fcntl(at__sig_pipe[1], F_SETFL, O_NONBLOCK);
        /* The watcher must not take the signal itself (it only waits). */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&at__sig_watcher, NULL, at__sig_watch,
                                (void *)(intptr_t)at__sig_pipe[0]);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            close(at__sig_pipe[0]);
            close(at__sig_pipe[1]);
            at__sig_pipe[0] = at__sig_pipe[1] = -1;
            pthread_mutex_unlock(&at__sig_lock);
            free(p);
            return AT_ENOMEM;
        }
        pthread_setname_np(at__sig_watcher, "at-dump-signal");
        at__sig_running = 1;
    } else if (at__sig_no && at__sig_no != signo) {
        sigaction(at__sig_no, &at__sig_old, NULL);
        at__sig_no = 0;
    }
    if (at__sig_no != signo) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = at__sig_handler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(signo, &sa, &at__sig_old) != 0) {
            /* The watcher stays (at_dump_signal_remove stops it); no
             * signal is ours and the previous path stays. */
            pthread_mutex_unlock(&at__sig_lock);
            free(p);
            return AT_EINVAL;
        }
        at__sig_no = signo;
    }
    free(at__sig_path);
    at__sig_path = p;
    pthread_mutex_unlock(&at__sig_lock);
    return 0;
}

void at_dump_signal_set_timeout(uint64_t timeout_ns)
{
    pthread_mutex_lock(&at__sig_lock);
    at__sig_timeout = timeout_ns ? timeout_ns : AT__SIGNAL_DEFAULT_TIMEOUT;
    pthread_mutex_unlock(&at__sig_lock);
}

void at_dump_signal_remove(void)
{
    pthread_mutex_lock(&at__sig_lock);
    if (!at__sig_running) {
        pthread_mutex_unlock(&at__sig_lock);
        return;
    }
    if (at__sig_no)
        sigaction(at__sig_no, &at__sig_old, NULL);
    at__sig_no = 0;
    at__sig_running = 0;
    pthread_t w = at__sig_watcher;
    int fds[2] = {at__sig_pipe[0], at__sig_pipe[1]};
    pthread_mutex_unlock(&at__sig_lock);
    char b = AT__WATCHER_STOP;
    while (write(fds[1], &b, 1) < 0 && errno == EINTR)
        ;
    pthread_join(w, NULL);
    pthread_mutex_lock(&at__sig_lock);
    close(fds[0]);
    close(fds[1]);
    at__sig_pipe[0] = at__sig_pipe[1] = -1;
    free(at__sig_path);
    at__sig_path = NULL;
    pthread_mutex_unlock(&at__sig_lock);
}

uint64_t at_dump_signal_count(void)
{
    return __atomic_load_n(&at__sig_count, __ATOMIC_ACQUIRE);
}

/* ---- Environment ---- */

static int at__signal_by_name(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end)
        return v > 0 && v < NSIG ? (int)v : 0;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (int sig = 1; sig < NSIG; sig++) {
        const char *abbrev = sigabbrev_np(sig);
        if (abbrev && strcmp(abbrev, s) == 0)
            return sig;
    }
    return 0;
}

void at__dump_signal_from_env(at_runtime *rt)
{
    static int done;
    (void)rt;
    if (__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        return;
    const char *sig = getenv("ASYNCTRACE_DUMP_SIGNAL");
    if (!sig || !*sig)
        return;
    int signo = at__signal_by_name(sig);
    if (!signo) {
        fprintf(stderr, "asynctrace: ASYNCTRACE_DUMP_SIGNAL=%s is not a signal; ignored\n", sig);
        return;
    }
    if (at__is_crash_signal(signo)) {
        fprintf(stderr,
                "asynctrace: ASYNCTRACE_DUMP_SIGNAL=%s is a crash or uncatchable signal; "
                "no dump handler installed (use SIGUSR1, SIGUSR2 or SIGQUIT)\n",
                sig);
        return;
    }
    const char *file = getenv("ASYNCTRACE_DUMP_FILE");
    char def[64];
    if (!file || !*file) {
        snprintf(def, sizeof(def), "asynctrace-dump-%d.json", (int)getpid());
        file = def;
    }
    const char *ms = getenv("ASYNCTRACE_DUMP_TIMEOUT_MS");
    if (ms && *ms)
        at_dump_signal_set_timeout(strtoull(ms, NULL, 10) * AT_MS);
    if (at_dump_signal_install(signo, file) < 0)
        fprintf(stderr, "asynctrace: cannot install the dump signal %s\n", sig);
}
