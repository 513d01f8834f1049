/* proc.c - child processes of the harness.
 *
 * Every child (scenario, GDB) runs in its own process group, registered in a
 * fixed table; the whole group is killed when the child is done with, and
 * every group still registered is killed when the harness exits for any
 * reason (normal exit, a fatal signal, Ctrl-C).  Children also get
 * PR_SET_PDEATHSIG, so even a harness killed with SIGKILL leaves nothing
 * behind: the thread that forked a child outlives it by construction. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

#define PROC_MAX 256
static _Atomic pid_t proc_groups[PROC_MAX];

static void proc_register(pid_t pgid)
{
    for (int i = 0; i < PROC_MAX; i++) {
        pid_t zero = 0;
        if (atomic_compare_exchange_strong(&proc_groups[i], &zero, pgid))
            return;
    }
    /* Table full: cannot happen with the pool sizes we use (2 per job). */
}

static void proc_unregister(pid_t pgid)
{
    for (int i = 0; i < PROC_MAX; i++) {
        pid_t want = pgid;
        if (atomic_compare_exchange_strong(&proc_groups[i], &want, 0))
            return;
    }
}

/* Async-signal-safe. */
static void proc_kill_all(void)
{
    for (int i = 0; i < PROC_MAX; i++) {
        pid_t g = atomic_exchange(&proc_groups[i], 0);
        if (g > 0)
            kill(-g, SIGKILL);
    }
}

static void proc_on_signal(int sig)
{
    proc_kill_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

void proc_init(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT,
                               SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    atexit(proc_kill_all);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = proc_on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(sigs[i], &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
}

char *proc_which(const char *name)
{
    if (strchr(name, '/'))
        return access(name, X_OK) == 0 ? h_strdup(name) : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char *copy = h_strdup(path), *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *full = h_asprintf("%s/%s", *dir ? dir : ".", name);
        if (access(full, X_OK) == 0) {
            free(copy);
            return full;
        }
        free(full);
    }
    free(copy);
    return NULL;
}

static int open_out(const char *path)
{
    return open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

int proc_start(hproc *p, char *const argv[], char *const env_add[],
               const char *out_path, const char *err_path, int keep_fd)
{
    memset(p, 0, sizeof *p);
    /* Everything the child needs is prepared here: between fork and exec a
     * multi-threaded parent's child may only make async-signal-safe calls. */
    size_t nenv = 0, nadd = 0;
    while (environ[nenv])
        nenv++;
    while (env_add && env_add[nadd])
        nadd++;
    char **envp = h_xmalloc((nenv + nadd + 1) * sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        int overridden = 0;
        for (size_t j = 0; j < nadd; j++) {
            size_t n = strcspn(env_add[j], "=");
            if (!strncmp(environ[i], env_add[j], n) && environ[i][n] == '=')
                overridden = 1;
        }
        if (!overridden)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < nadd; j++)
        envp[k++] = env_add[j];
    envp[k] = NULL;

    int out = open_out(out_path), err = open_out(err_path);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || err < 0 || in < 0) {
        int e = errno;
        if (out >= 0) close(out);
        if (err >= 0) close(err);
        if (in >= 0) close(in);
        free(envp);
        return -e;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out);
        close(err);
        close(in);
        free(envp);
        return -e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        if (keep_fd >= 0)
            fcntl(keep_fd, F_SETFD, 0);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    setpgid(pid, pid); /* also done by the child: whichever runs first */
    proc_register(pid);
    close(out);
    close(err);
    close(in);
    free(envp);
    p->pid = pid;
    return 0;
}

int proc_wait(hproc *p, double timeout_s)
{
    if (p->reaped)
        return 0;
    double end = h_now() + timeout_s;
    long nap_us = 500;
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->status = st;
            p->reaped = 1;
            /* The leader is gone; anything left in its group goes too. */
            kill(-p->pid, SIGKILL);
            proc_unregister(p->pid);
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            p->reaped = 1;
            p->status = 0;
            proc_unregister(p->pid);
            return 0;
        }
        if (h_now() >= end)
            return -ETIMEDOUT;
        struct timespec ts = {0, nap_us * 1000};
        nanosleep(&ts, NULL);
        if (nap_us < 20000)
            nap_us *= 2;
    }
}

void proc_kill(hproc *p)
{
    if (p->pid <= 0)
        return;
    if (!p->reaped) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        int st;
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
            ;
        p->status = st;
        p->reaped = 1;
    } else {
        kill(-p->pid, SIGKILL);
    }
    proc_unregister(p->pid);
}

void proc_describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by SIG%s%s", sigabbrev_np(WTERMSIG(status))
                 ? sigabbrev_np(WTERMSIG(status)) : "?",
                 WCOREDUMP(status) ? " (core dumped)" : "");
    else
        snprintf(buf, len, "ended with wait status 0x%x", status);
}

int proc_run(char *const argv[], const char *out_path, const char *err_path,
             double timeout_s, int *status)
{
    hproc p;
    int rc = proc_start(&p, argv, NULL, out_path, err_path, -1);
    if (rc)
        return rc;
    if (proc_wait(&p, timeout_s)) {
        proc_kill(&p);
        return -ETIMEDOUT;
    }
    proc_kill(&p); /* reaped already: kills stragglers in its group */
    *status = p.status;
    return 0;
}
