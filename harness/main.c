/* main.c - asynctrace-harness: options, scenario discovery, the pool of
 * workers that run scenarios in parallel, and the report.
 *
 *   asynctrace-harness [-j N] [--only NAME]... [--keep] [--update] [--list]
 *                      [--timeout S] [--gdb-timeout S] [--root DIR]
 *                      [--bin-dir DIR] [--expect-dir DIR] [--out-dir DIR]
 *                      [--gdb-script FILE] [NAME...]
 *
 * The scenarios are the union of the binaries in the binary directory and
 * the expect files in the expect directory.  Exit status: 0 when nothing
 * failed, 1 when a scenario failed, 2 on a usage or set-up error. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define SHOWN_DIFFS 25

static void usage(FILE *f)
{
    fputs("usage: asynctrace-harness [options] [NAME...]\n"
          "Runs the scenario programs, compares their live and offline traces,\n"
          "and checks each scenario's expect file.\n\n"
          "  -j N               run N scenarios at once (default: number of CPUs)\n"
          "  --only NAME        run only NAME (repeatable; same as naming it)\n"
          "  --list             list the scenarios and exit\n"
          "  --keep             keep build/harness/NAME/ (dumps, core) on success too\n"
          "  --update           rewrite the expect files from this run\n"
          "  --timeout S        seconds a scenario gets to reach its checkpoint (20)\n"
          "  --gdb-timeout S    seconds each GDB run may take (120)\n"
          "  --root DIR         source tree (default: found from the binary)\n"
          "  --bin-dir DIR      scenario binaries (default: <harness dir>/scenarios)\n"
          "  --expect-dir DIR   expect files (default: ROOT/scenarios)\n"
          "  --out-dir DIR      work directories (default: <harness dir>/harness)\n"
          "  --gdb-script FILE  GDB extension (default: ROOT/gdb/asynctrace-gdb.py)\n"
          "  -v                 print every difference, not the first 25\n",
          f);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_unique(hlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return;
    hlist_add(l, s);
}

/* Scenario names: executables in bin_dir, NAME.expect in expect_dir. */
static void discover(const hconfig *cfg, hlist *names)
{
    DIR *d = opendir(cfg->bin_dir);
    struct dirent *e;
    if (d) {
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || strchr(e->d_name, '.'))
                continue;
            char *p = h_asprintf("%s/%s", cfg->bin_dir, e->d_name);
            struct stat st;
            if (!stat(p, &st) && S_ISREG(st.st_mode) && !access(p, X_OK))
                add_unique(names, e->d_name);
            free(p);
        }
        closedir(d);
    }
    d = opendir(cfg->expect_dir);
    if (d) {
        while ((e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (n > 7 && !strcmp(e->d_name + n - 7, ".expect") && e->d_name[0] != '.') {
                char *name = h_asprintf("%.*s", (int)(n - 7), e->d_name);
                add_unique(names, name);
                free(name);
            }
        }
        closedir(d);
    }
    qsort(names->v, names->n, sizeof *names->v, cmp_str);
}

/* The source root: the first ancestor of the harness binary's directory
 * holding gdb/ and scenarios/ (build/asynctrace-harness -> .). */
static char *find_root(const char *exe_dir)
{
    char *dir = h_strdup(exe_dir);
    for (int i = 0; i < 6; i++) {
        char *g = h_asprintf("%s/gdb", dir), *s = h_asprintf("%s/scenarios", dir);
        int ok = h_file_exists(g) && h_file_exists(s);
        free(g);
        free(s);
        if (ok)
            return dir;
        char *up = h_asprintf("%s/..", dir);
        free(dir);
        dir = up;
    }
    free(dir);
    return NULL;
}

/* ---- Memory that lives as long as the run, freed at exit ------------------ */

static char *owned[32];
static int nowned;
static hlist all_names, run_names, only_names;

static char *own(char *p)
{
    if (nowned < (int)(sizeof owned / sizeof owned[0]))
        owned[nowned++] = p;
    return p;
}

static void free_owned(void)
{
    while (nowned > 0)
        free(owned[--nowned]);
    hlist_free(&all_names);
    hlist_free(&run_names);
    hlist_free(&only_names);
}

/* ---- The pool ----------------------------------------------------------- */

typedef struct pool {
    const hconfig *cfg;
    hlist *names;
    size_t next, done;
    size_t passed, failed, skipped;
    int tty, verbose;
    pthread_mutex_t lock;
} pool;

static void report(pool *p, const char *name, const hresult *r)
{
    pthread_mutex_lock(&p->lock);
    p->done++;
    if (p->tty)
        fputs("\r\033[K", stdout);
    const char *tag = r->verdict == H_OK ? "ok  " : r->verdict == H_SKIP ? "SKIP" : "FAIL";
    printf("%s %-28s %6.2fs%s%s\n", tag, name, r->seconds, r->reason[0] ? "  " : "",
           r->reason);
    size_t shown = p->verbose ? r->diffs.n : (r->diffs.n < SHOWN_DIFFS ? r->diffs.n : SHOWN_DIFFS);
    for (size_t i = 0; i < shown; i++)
        printf("       %s\n", r->diffs.v[i]);
    if (shown < r->diffs.n)
        printf("       ... %zu more in %s/%s/diff.txt\n", r->diffs.n - shown,
               h_rel(p->cfg->out_dir), name);
    if (r->verdict == H_FAIL)
        printf("       (dumps, core and outputs kept in %s/%s/)\n", h_rel(p->cfg->out_dir),
               name);
    if (r->verdict == H_OK)
        p->passed++;
    else if (r->verdict == H_SKIP)
        p->skipped++;
    else
        p->failed++;
    if (p->tty && p->done < p->names->n)
        printf("[%zu/%zu] %zu failed so far ...", p->done, p->names->n, p->failed);
    fflush(stdout);
    pthread_mutex_unlock(&p->lock);
}

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next < p->names->n ? p->next++ : (size_t)-1;
        pthread_mutex_unlock(&p->lock);
        if (i == (size_t)-1)
            return NULL;
        hresult r;
        run_scenario(p->cfg, p->names->v[i], &r);
        report(p, p->names->v[i], &r);
        hlist_free(&r.diffs);
    }
}

int main(int argc, char **argv)
{
    proc_init();
    json_object_seed(1); /* seed once, before threads */
    /* Documents of 20,000 tasks are millions of small blocks: giving freed
     * heap back to the kernel after each one costs seconds of page faults
     * when the next is parsed. */
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
    hconfig cfg = {.timeout = 20, .gdb_timeout = 120};
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    int list = 0;
    hlist *only = &only_names;
    atexit(free_owned);
    const char *root = NULL;
    enum { O_ONLY = 256, O_LIST, O_KEEP, O_UPDATE, O_TIMEOUT, O_GDBTIMEOUT, O_ROOT,
           O_BIN, O_EXPECT, O_OUT, O_SCRIPT, O_HELP };
    static const struct option opts[] = {
        {"only", required_argument, 0, O_ONLY},       {"list", no_argument, 0, O_LIST},
        {"keep", no_argument, 0, O_KEEP},             {"update", no_argument, 0, O_UPDATE},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"gdb-timeout", required_argument, 0, O_GDBTIMEOUT},
        {"root", required_argument, 0, O_ROOT},       {"bin-dir", required_argument, 0, O_BIN},
        {"expect-dir", required_argument, 0, O_EXPECT},
        {"out-dir", required_argument, 0, O_OUT},
        {"gdb-script", required_argument, 0, O_SCRIPT},
        {"help", no_argument, 0, O_HELP},             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "j:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'j': jobs = strtol(optarg, NULL, 10); break;
        case 'v': cfg.verbose = 1; break;
        case O_ONLY: hlist_add(only, optarg); break;
        case O_LIST: list = 1; break;
        case O_KEEP: cfg.keep = 1; break;
        case O_UPDATE: cfg.update = 1; break;
        case O_TIMEOUT: cfg.timeout = strtod(optarg, NULL); break;
        case O_GDBTIMEOUT: cfg.gdb_timeout = strtod(optarg, NULL); break;
        case O_ROOT: root = optarg; break;
        case O_BIN: cfg.bin_dir = optarg; break;
        case O_EXPECT: cfg.expect_dir = optarg; break;
        case O_OUT: cfg.out_dir = optarg; break;
        case O_SCRIPT: cfg.gdb_script = optarg; break;
        case 'h': case O_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    for (int i = optind; i < argc; i++)
        hlist_add(only, argv[i]);
    if (jobs < 1)
        jobs = 1;
    if (cfg.timeout <= 0 || cfg.gdb_timeout <= 0) {
        fputs("asynctrace-harness: timeouts must be positive\n", stderr);
        return 2;
    }

    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fputs("asynctrace-harness: cannot read /proc/self/exe\n", stderr);
        return 2;
    }
    exe[n] = 0;
    char *exe_dir = own(h_strdup(dirname(exe)));
    char *found_root = own(root ? h_strdup(root) : find_root(exe_dir));
    if (!found_root && (!cfg.expect_dir || !cfg.gdb_script)) {
        fprintf(stderr, "asynctrace-harness: cannot find the source tree from %s; use --root\n",
                exe_dir);
        return 2;
    }
    const char *bin_dir = cfg.bin_dir ? cfg.bin_dir : own(h_asprintf("%s/scenarios", exe_dir));
    const char *out_dir = cfg.out_dir ? cfg.out_dir : own(h_asprintf("%s/harness", exe_dir));
    const char *expect_dir = cfg.expect_dir ? cfg.expect_dir
                                            : own(h_asprintf("%s/scenarios", found_root));
    const char *script = cfg.gdb_script ? cfg.gdb_script
                                        : own(h_asprintf("%s/gdb/asynctrace-gdb.py", found_root));
    h_mkdir_p(out_dir);
    cfg.root = found_root ? own(h_realpath(found_root)) : NULL;
    cfg.frames_script = own(cfg.root ? h_asprintf("%s/harness/native_frames.py", cfg.root)
                                     : h_asprintf("%s/native_frames.py", exe_dir));
    char *cli = own(h_asprintf("%s/asynctrace", exe_dir));
    cfg.cli_path = access(cli, X_OK) == 0 ? cli : NULL;
    cfg.bin_dir = own(h_realpath(bin_dir));
    cfg.out_dir = own(h_realpath(out_dir));
    cfg.expect_dir = own(h_realpath(expect_dir));
    cfg.gdb_script = own(h_realpath(script));

    hlist *all = &all_names, *names = &run_names;
    discover(&cfg, all);
    if (only->n) {
        for (size_t i = 0; i < only->n; i++) {
            int known = 0;
            for (size_t k = 0; k < all->n; k++)
                known |= !strcmp(all->v[k], only->v[i]);
            if (!known) {
                fprintf(stderr, "asynctrace-harness: no scenario named %s (see --list)\n",
                        only->v[i]);
                return 2;
            }
            add_unique(names, only->v[i]);
        }
    } else {
        for (size_t k = 0; k < all->n; k++)
            hlist_add(names, all->v[k]);
    }
    if (list) {
        for (size_t i = 0; i < names->n; i++) {
            char *b = h_asprintf("%s/%s", cfg.bin_dir, names->v[i]);
            char *e = h_asprintf("%s/%s.expect", cfg.expect_dir, names->v[i]);
            printf("%s%s%s\n", names->v[i], h_file_exists(b) ? "" : "  (not built)",
                   h_file_exists(e) ? "" : "  (no expect file)");
            free(b);
            free(e);
        }
        return 0;
    }
    if (!names->n) {
        fprintf(stderr, "asynctrace-harness: no scenarios in %s or %s\n", cfg.bin_dir,
                cfg.expect_dir);
        return 2;
    }
    cfg.gdb_path = own(proc_which(getenv("ASYNCTRACE_GDB") ? getenv("ASYNCTRACE_GDB") : "gdb"));
    if (!cfg.gdb_path) {
        fputs("asynctrace-harness: gdb not found in PATH (make deps installs it)\n", stderr);
        return 2;
    }
    if (!h_file_exists(cfg.frames_script)) {
        fprintf(stderr, "asynctrace-harness: no %s\n", cfg.frames_script);
        return 2;
    }
    if (!h_file_exists(cfg.gdb_script)) {
        fprintf(stderr, "asynctrace-harness: no GDB extension at %s\n", cfg.gdb_script);
        return 2;
    }
    int rc = h_mkdir_p(cfg.out_dir);
    if (rc) {
        fprintf(stderr, "asynctrace-harness: cannot create %s: %s\n", cfg.out_dir,
                strerror(-rc));
        return 2;
    }

    (void)h_rel(cfg.out_dir); /* caches the working directory before threads */
    pool p = {.cfg = &cfg, .names = names, .tty = isatty(1), .verbose = cfg.verbose};
    pthread_mutex_init(&p.lock, NULL);
    if ((size_t)jobs > names->n)
        jobs = (long)names->n;
    double t0 = h_now();
    if (p.tty) {
        printf("[0/%zu] running ...", names->n);
        fflush(stdout);
    }
    pthread_t *th = h_xmalloc((size_t)jobs * sizeof *th);
    for (long i = 0; i < jobs; i++)
        if (pthread_create(&th[i], NULL, worker, &p)) {
            fputs("asynctrace-harness: cannot create a thread\n", stderr);
            return 2;
        }
    for (long i = 0; i < jobs; i++)
        pthread_join(th[i], NULL);
    if (p.tty)
        fputs("\r\033[K", stdout);
    printf("%zu passed, %zu failed", p.passed, p.failed);
    if (p.skipped)
        printf(", %zu skipped", p.skipped);
    printf(" (%.1fs)\n", h_now() - t0);
    free(th);
    return p.failed ? 1 : 0;
}
