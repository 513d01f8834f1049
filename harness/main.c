/* main.c - asynctrace-harness: options, scenario discovery, and the pool
 * of workers that run scenarios in parallel.
 *
 *   asynctrace-harness [options] [NAME...]
 *   asynctrace-harness --bin-dir DIR --expect-dir DIR [NAME...]
 *   asynctrace-harness --suite FILE [NAME...]
 *
 * The scenarios are the names given, the suite file's list, or the union
 * of the binaries in the binary directory and the expect files in the
 * expect directory.  Exit status: 0 when nothing failed, 1 when a scenario
 * failed, 2 on a usage or set-up error. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static void usage(FILE *f)
{
    fputs("usage: asynctrace-harness [options] [NAME...]\n"
          "Runs scenario programs to their checkpoints, compares their live and offline\n"
          "traces, and checks each scenario's expect file.\n\n"
          "  --bin-dir DIR      scenario binaries\n"
          "  --expect-dir DIR   expect files (NAME.expect)\n"
          "  --suite FILE       a suite file: directories, settings, scenario list\n"
          "  -j N               run N scenarios at once (default: number of CPUs)\n"
          "  --only NAME        run only NAME (repeatable; same as naming it)\n"
          "  --list             list the scenarios and exit\n"
          "  --seeds N          run each scenario under N scheduling seeds, stopping at\n"
          "                     the first that hangs or deviates\n"
          "  --seed S           the (first) seed (default 1); alone: run under S once\n"
          "  --junit FILE       write a JUnit XML report\n"
          "  --tap[=FILE]       TAP instead of the text lines (or also, into FILE)\n"
          "  --keep             keep OUT/NAME/ (dumps, core) on success too\n"
          "  --update           rewrite the expect files from this run\n"
          "  --timeout S        seconds a scenario gets to reach its checkpoint (20)\n"
          "  --gdb-timeout S    seconds each GDB run may take (120)\n"
          "  --out-dir DIR      work directories (default: build/harness in the tree,\n"
          "                     ./asynctrace-harness.out installed)\n"
          "  --gdb-script FILE  the GDB extension (default: the installed one, or the tree's)\n"
          "  --root DIR         source tree (default: found from the binary)\n"
          "  -v                 print every difference, not the first 25\n",
          f);
}

/* ---- Memory that lives as long as the run, freed at exit ------------------ */

static char *owned[32];
static int nowned;
static hlist only_names, run_names, all_names;
static hsuite suite;

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
    hlist_free(&only_names);
    hlist_free(&run_names);
    hlist_free(&all_names);
    suite_free(&suite);
}

/* ---- Options -------------------------------------------------------------------- */

typedef struct opts {
    hconfig cfg;
    long jobs;
    int list, tap, have_seed, have_timeout, have_gdb_timeout;
    const char *root, *suite, *junit, *tap_file;
} opts;

enum { O_ONLY = 256, O_LIST, O_KEEP, O_UPDATE, O_TIMEOUT, O_GDBTIMEOUT, O_ROOT, O_BIN,
       O_EXPECT, O_OUT, O_SCRIPT, O_HELP, O_SUITE, O_JUNIT, O_TAP, O_SEED, O_SEEDS };

static const struct option long_opts[] = {
    {"only", required_argument, 0, O_ONLY},        {"list", no_argument, 0, O_LIST},
    {"keep", no_argument, 0, O_KEEP},              {"update", no_argument, 0, O_UPDATE},
    {"timeout", required_argument, 0, O_TIMEOUT},  {"gdb-timeout", required_argument, 0, O_GDBTIMEOUT},
    {"root", required_argument, 0, O_ROOT},        {"bin-dir", required_argument, 0, O_BIN},
    {"expect-dir", required_argument, 0, O_EXPECT},{"out-dir", required_argument, 0, O_OUT},
    {"gdb-script", required_argument, 0, O_SCRIPT},{"help", no_argument, 0, O_HELP},
    {"suite", required_argument, 0, O_SUITE},      {"junit", required_argument, 0, O_JUNIT},
    {"tap", optional_argument, 0, O_TAP},          {"seed", required_argument, 0, O_SEED},
    {"seeds", required_argument, 0, O_SEEDS},      {0, 0, 0, 0}};

static int number(const char *opt, const char *v, double *out)
{
    char *end;
    *out = strtod(v, &end);
    if (*end || !*v || *out <= 0) {
        fprintf(stderr, "asynctrace-harness: %s takes a positive number, not `%s`\n", opt, v);
        return -1;
    }
    return 0;
}

static int whole(const char *opt, const char *v, unsigned long long *out)
{
    char *end;
    *out = strtoull(v, &end, 10);
    if (*end || !*v || *v == '-') {
        fprintf(stderr, "asynctrace-harness: %s takes a whole number, not `%s`\n", opt, v);
        return -1;
    }
    return 0;
}

/* One option; 0 fine, 1 help printed, -1 bad. */
static int take_option(opts *o, int c)
{
    double d;
    unsigned long long n;
    switch (c) {
    case 'j': o->jobs = strtol(optarg, NULL, 10); break;
    case 'v': o->cfg.verbose = 1; break;
    case O_ONLY: hlist_add(&only_names, optarg); break;
    case O_LIST: o->list = 1; break;
    case O_KEEP: o->cfg.keep = 1; break;
    case O_UPDATE: o->cfg.update = 1; break;
    case O_TIMEOUT: if (number("--timeout", optarg, &d)) return -1;
        o->cfg.timeout = d; o->have_timeout = 1; break;
    case O_GDBTIMEOUT: if (number("--gdb-timeout", optarg, &d)) return -1;
        o->cfg.gdb_timeout = d; o->have_gdb_timeout = 1; break;
    case O_ROOT: o->root = optarg; break;
    case O_BIN: o->cfg.bin_dir = optarg; break;
    case O_EXPECT: o->cfg.expect_dir = optarg; break;
    case O_OUT: o->cfg.out_dir = optarg; break;
    case O_SCRIPT: o->cfg.gdb_script = optarg; break;
    case O_SUITE: o->suite = optarg; break;
    case O_JUNIT: o->junit = optarg; break;
    case O_TAP: o->tap = 1; o->tap_file = optarg; break;
    case O_SEED: if (whole("--seed", optarg, &o->cfg.seed)) return -1;
        o->have_seed = 1; break;
    case O_SEEDS: if (whole("--seeds", optarg, &n) || !n) return -1;
        o->cfg.nseeds = (unsigned long)n; break;
    case 'h': case O_HELP: usage(stdout); return 1;
    default: usage(stderr); return -1;
    }
    return 0;
}

static int parse_options(int argc, char **argv, opts *o)
{
    int c;
    while ((c = getopt_long(argc, argv, "j:vh", long_opts, NULL)) != -1) {
        int rc = take_option(o, c);
        if (rc)
            return rc;
    }
    for (int i = optind; i < argc; i++)
        hlist_add(&only_names, argv[i]);
    if (o->jobs < 1)
        o->jobs = 1;
    return 0;
}

/* Settings of the suite file that the command line did not give. */
static int apply_suite(opts *o)
{
    char err[600];
    if (suite_load(o->suite, &suite, err, sizeof err)) {
        fprintf(stderr, "asynctrace-harness: %s\n", err);
        return -1;
    }
    hconfig *cfg = &o->cfg;
    if (!cfg->bin_dir)
        cfg->bin_dir = suite.bin_dir;
    if (!cfg->expect_dir)
        cfg->expect_dir = suite.expect_dir;
    if (!cfg->gdb_script)
        cfg->gdb_script = suite.gdb_script;
    if (!o->have_timeout && suite.timeout > 0)
        cfg->timeout = suite.timeout;
    if (!o->have_gdb_timeout && suite.gdb_timeout > 0)
        cfg->gdb_timeout = suite.gdb_timeout;
    if (!o->have_seed && suite.has_seed) {
        cfg->seed = suite.seed;
        o->have_seed = 1;
    }
    if (!cfg->nseeds && suite.nseeds)
        cfg->nseeds = suite.nseeds;
    cfg->suite_name = suite.name;
    return 0;
}

/* ---- Paths ------------------------------------------------------------------------ */

static int resolve_paths(opts *o, const char *argv0)
{
    hconfig *cfg = &o->cfg;
    char *exe_dir = own(config_exe_dir());
    if (!exe_dir) {
        fputs("asynctrace-harness: cannot read /proc/self/exe\n", stderr);
        return -1;
    }
    char *prefix = o->root ? NULL : own(config_installed_prefix(exe_dir));
    char *root = prefix ? NULL : own(o->root ? h_strdup(o->root) : config_find_root(exe_dir));
    if (!root && (!cfg->bin_dir || !cfg->expect_dir)) {
        fputs("asynctrace-harness: name the scenarios' directories: --bin-dir DIR "
              "--expect-dir DIR, or --suite FILE\n", stderr);
        return -1;
    }
    if (!cfg->bin_dir)
        cfg->bin_dir = own(h_asprintf("%s/scenarios", exe_dir));
    if (!cfg->expect_dir)
        cfg->expect_dir = own(h_asprintf("%s/scenarios", root));
    if (!cfg->out_dir)
        cfg->out_dir = root ? own(h_asprintf("%s/harness", exe_dir)) : "asynctrace-harness.out";
    if (!cfg->gdb_script)
        cfg->gdb_script = own(config_gdb_script(prefix, root));
    if (!cfg->gdb_script) {
        fputs("asynctrace-harness: cannot find the GDB extension; use --gdb-script FILE\n", stderr);
        return -1;
    }
    cfg->frames_script = own(config_frames_script(prefix, root));
    /* In the tree, the CLI reads the same moments as GDB and must agree. */
    char *cli = root ? own(h_asprintf("%s/asynctrace", exe_dir)) : NULL;
    cfg->cli_path = cli && access(cli, X_OK) == 0 ? cli : NULL;
    h_mkdir_p(cfg->out_dir);
    cfg->root = root ? own(h_realpath(root)) : NULL;
    cfg->bin_dir = own(h_realpath(cfg->bin_dir));
    cfg->out_dir = own(h_realpath(cfg->out_dir));
    cfg->expect_dir = own(h_realpath(cfg->expect_dir));
    cfg->gdb_script = own(h_realpath(cfg->gdb_script));
    cfg->self = strchr(argv0, '/') ? own(h_realpath(argv0)) : argv0;
    if (!cfg->suite_name)
        cfg->suite_name = "asynctrace-harness";
    return 0;
}

/* ---- Scenarios -------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has(const hlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return 1;
    return 0;
}

static void add_unique(hlist *l, const char *s)
{
    if (!has(l, s))
        hlist_add(l, s);
}

/* Scenario names: executables in bin_dir, NAME.expect in expect_dir. */
static void discover(const hconfig *cfg, hlist *names)
{
    DIR *d = opendir(cfg->bin_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strchr(e->d_name, '.'))
            continue;
        char *p = h_asprintf("%s/%s", cfg->bin_dir, e->d_name);
        struct stat st;
        if (!stat(p, &st) && S_ISREG(st.st_mode) && !access(p, X_OK))
            add_unique(names, e->d_name);
        free(p);
    }
    if (d)
        closedir(d);
    d = opendir(cfg->expect_dir);
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 7 && !strcmp(e->d_name + n - 7, ".expect") && e->d_name[0] != '.') {
            char *name = h_asprintf("%.*s", (int)(n - 7), e->d_name);
            add_unique(names, name);
            free(name);
        }
    }
    if (d)
        closedir(d);
    qsort(names->v, names->n, sizeof *names->v, cmp_str);
}

/* The names to run: those asked for (each must be known), else all. */
static int select_names(const opts *o, hlist *names)
{
    hlist *all = &all_names;
    if (o->suite) {
        for (size_t i = 0; i < suite.scenarios.n; i++)
            add_unique(all, suite.scenarios.v[i]);
    } else {
        discover(&o->cfg, all);
    }
    for (size_t i = 0; i < only_names.n; i++) {
        if (!has(all, only_names.v[i])) {
            fprintf(stderr, "asynctrace-harness: no scenario named %s (see --list)\n",
                    only_names.v[i]);
            return -1;
        }
        add_unique(names, only_names.v[i]);
    }
    for (size_t k = 0; !only_names.n && k < all->n; k++)
        hlist_add(names, all->v[k]);
    if (!names->n && !o->list) {
        fprintf(stderr, "asynctrace-harness: no scenarios in %s or %s\n", o->cfg.bin_dir,
                o->cfg.expect_dir);
        return -1;
    }
    return 0;
}

static void list_names(const hconfig *cfg, const hlist *names)
{
    for (size_t i = 0; i < names->n; i++) {
        char *b = h_asprintf("%s/%s", cfg->bin_dir, names->v[i]);
        char *e = h_asprintf("%s/%s.expect", cfg->expect_dir, names->v[i]);
        printf("%s%s%s\n", names->v[i], h_file_exists(b) ? "" : "  (not built)",
               h_file_exists(e) ? "" : "  (no expect file)");
        free(b);
        free(e);
    }
}

/* GDB, the scripts and the work directory. */
static int check_tools(hconfig *cfg)
{
    const char *gdb = getenv("ASYNCTRACE_GDB");
    cfg->gdb_path = own(proc_which(gdb ? gdb : "gdb"));
    if (!cfg->gdb_path) {
        fputs("asynctrace-harness: gdb not found in PATH (make deps installs it)\n", stderr);
        return -1;
    }
    if (!cfg->frames_script || !h_file_exists(cfg->frames_script)) {
        fprintf(stderr, "asynctrace-harness: no %s\n",
                cfg->frames_script ? cfg->frames_script : "native_frames.py");
        return -1;
    }
    if (!h_file_exists(cfg->gdb_script)) {
        fprintf(stderr, "asynctrace-harness: no GDB extension at %s\n", cfg->gdb_script);
        return -1;
    }
    int rc = h_mkdir_p(cfg->out_dir);
    if (rc) {
        fprintf(stderr, "asynctrace-harness: cannot create %s: %s\n", cfg->out_dir, strerror(-rc));
        return -1;
    }
    return 0;
}

/* ---- The pool ------------------------------------------------------------------- */

typedef struct pool {
    const hconfig *cfg;
    const hlist *names;
    size_t next;
    hreport *report;
    pthread_mutex_t lock;
} pool;

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
        run_seeds(p->cfg, p->names->v[i], &r);
        report_result(p->report, p->names->v[i], &r);
        result_free(&r);
    }
}

static int run_pool(const hconfig *cfg, const hlist *names, long jobs, hreport *rep)
{
    pool p = {.cfg = cfg, .names = names, .report = rep};
    pthread_mutex_init(&p.lock, NULL);
    if ((size_t)jobs > names->n)
        jobs = (long)names->n;
    pthread_t *th = h_xmalloc((size_t)jobs * sizeof *th);
    long started = 0;
    while (started < jobs && !pthread_create(&th[started], NULL, worker, &p))
        started++;
    if (!started)
        worker(&p); /* no thread at all: run them here */
    for (long i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    pthread_mutex_destroy(&p.lock);
    return 0;
}

static int setup(opts *o, int argc, char **argv)
{
    int rc = parse_options(argc, argv, o);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (o->suite && apply_suite(o))
        return 2;
    if (o->have_seed && !o->cfg.nseeds)
        o->cfg.nseeds = 1;
    if (!o->have_seed)
        o->cfg.seed = 1;
    if (o->cfg.update && o->cfg.nseeds) {
        fputs("asynctrace-harness: --update and seeds do not mix: update from the "
              "runtime's own order\n", stderr);
        return 2;
    }
    if (resolve_paths(o, argv[0]) || select_names(o, &run_names))
        return 2;
    return -1;
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
    atexit(free_owned);
    opts o = {.cfg = {.timeout = 20, .gdb_timeout = 120}, .jobs = sysconf(_SC_NPROCESSORS_ONLN)};
    int rc = setup(&o, argc, argv);
    if (rc >= 0)
        return rc;
    if (o.list) {
        list_names(&o.cfg, &run_names);
        return 0;
    }
    if (check_tools(&o.cfg))
        return 2;
    (void)h_rel(o.cfg.out_dir); /* caches the working directory before threads */
    double t0 = h_now();
    hreport *rep = report_new(&o.cfg, run_names.n, o.tap, o.tap_file, o.junit);
    run_pool(&o.cfg, &run_names, o.jobs, rep);
    return report_finish(rep, h_now() - t0);
}
