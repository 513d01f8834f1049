/* harness.h - private header of the scenario harness (build/asynctrace-harness).
 *
 * The harness runs each scenario program to its checkpoint, takes its live
 * dump (written by the scenario) and two offline dumps (GDB attached to the
 * process, GDB on a core of it), proves that they agree, and checks the
 * scenario's expect file.  Files:
 *   main.c      options, scenario discovery, the worker pool
 *   config.c    paths: the source tree or the installed layout, the GDB extension
 *   suite.c     suite files (a list of scenarios and their settings)
 *   report.c    the text lines, TAP and JUnit XML reports
 *   proc.c      child processes: process groups, timeouts, kill on exit
 *   run.c       one scenario from start to verdict (under one seed)
 *   offline.c   GDB attached, the core, GDB on the core; the hang diagnosis
 *   cliobs.c    the `asynctrace` CLI as two more observers (in the tree)
 *   directive.c `expect ...` assertions of an expect file
 *   gdbout.c    splitting GDB's output into the JSON documents it printed
 *   compare.c   live versus offline, attached versus core
 *   observe.c   the address-free observation of a run (expect lines)
 *   expect.c    expect files: parse, compare, write
 *   expect_line.c  the grammar of one observation line
 *   util.c      strings, files, the diff list
 *   native_frames.py  sourced into GDB: every thread's native frames as JSON
 */
#ifndef AT_HARNESS_H
#define AT_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* ---- util.c ------------------------------------------------------------- */

/* A growable string. */
typedef struct hstr {
    char *s;
    size_t len, cap;
} hstr;
void hstr_add(hstr *b, const char *s);
void hstr_addn(hstr *b, const char *s, size_t n);
void hstr_printf(hstr *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hstr_free(hstr *b);

/* A list of strings (diff lines, expect lines). */
typedef struct hlist {
    char **v;
    size_t n, cap;
} hlist;
void hlist_add(hlist *l, const char *s);
void hlist_printf(hlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hlist_free(hlist *l);

char *h_strdup(const char *s);
/* The formatted string (malloc'd), or NULL when out of memory. */
char *h_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
char *h_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *h_xmalloc(size_t n);
/* Whole file as a NUL-terminated string (NULL and errno on failure). */
char *h_read_file(const char *path, size_t *len);
int h_write_file(const char *path, const char *data, size_t len);
int h_mkdir_p(const char *path);
int h_rm_rf(const char *path);
int h_file_exists(const char *path);
double h_now(void);
char *h_realpath(const char *path);
/* path relative to the working directory when it lies below it. */
const char *h_rel(const char *path);

/* JSON accessors that tolerate missing keys and wrong types. */
const char *j_str(json_t *o, const char *key);   /* NULL if not a string */
long long j_int(json_t *o, const char *key, long long dflt);
json_t *j_arr(json_t *o, const char *key);       /* NULL if not an array */

/* ---- proc.c ------------------------------------------------------------- */

typedef struct hproc {
    pid_t pid;        /* also the process group id */
    int status;       /* wait status once reaped */
    int reaped;
} hproc;

/* Install the exit and signal hooks that kill every child process group
 * still registered (call once, first thing). */
void proc_init(void);

/* Start argv[0] (a path) in its own process group with `env` added to the
 * environment, stdout/stderr to the given files (NULL: /dev/null), and fd
 * `keep_fd` (>= 0) left open across exec.  Returns 0 or -errno. */
int proc_start(hproc *p, char *const argv[], char *const env_add[],
               const char *out_path, const char *err_path, int keep_fd);

/* Wait until the process exits, at most timeout_s seconds.  Returns 0 when
 * reaped (p->status set), -ETIMEDOUT otherwise. */
int proc_wait(hproc *p, double timeout_s);

/* Kill the whole process group with SIGKILL and reap the leader. */
void proc_kill(hproc *p);

/* "exited with status 3", "killed by SIGSEGV" ... (static storage per call
 * site: copy it). */
void proc_describe_status(int status, char *buf, size_t len);

/* Run a command to completion with a timeout; killed on timeout.  Returns
 * 0 when it ran (exit status in *status), -ETIMEDOUT, or -errno. */
int proc_run(char *const argv[], const char *out_path, const char *err_path,
             double timeout_s, int *status);

/* Resolve a program name through PATH (malloc'd absolute path or NULL). */
char *proc_which(const char *name);

/* ---- gdbout.c ----------------------------------------------------------- */

#define GDB_MARK "@@asynctrace-harness:"

/* Find the document GDB printed after the marker line `GDB_MARK name@@` and
 * parse it.  On failure returns NULL and a reason in err. */
json_t *gdbout_document(const char *output, const char *name, char *err, size_t errlen);

/* ---- compare.c ---------------------------------------------------------- */

/* Attached and core documents must be equal, ignoring "source" and "clock".
 * Differences go to diffs (prefixed with `what`).  Returns the count. */
size_t compare_offline(json_t *attached, json_t *core, const char *what, hlist *diffs);

/* Live and offline agree task by task: ids, states, names, spawn sites,
 * parents, await trees (function, file, line, kind, resource), and the live
 * native frames projected onto async functions equal each leaf's path of
 * the offline await tree.  Only runtimes present in the live document are
 * compared.  Returns the number of differences. */
size_t compare_live(json_t *live, json_t *offline, hlist *diffs);

/* ---- observe.c ---------------------------------------------------------- */

/* The address-free lines that describe a run (the body of an expect file):
 * `mode`, `runtime`, `task`/`tasks`, `thread`, `culprit`, `cycle`, `stuck`.
 * frames_doc is the output of harness/native_frames.py (GDB's unwinding of
 * every thread), for the culprit lines of running tasks. */
void observe(json_t *tasks_doc, json_t *deadlocks_doc, json_t *frames_doc, int live,
             hlist *out);

/* Render one await tree in the expect syntax (innermost first). */
void observe_await(json_t *frame, hstr *out);

/* ---- expect.c ----------------------------------------------------------- */

/* An `expect ...` assertion of an expect file (directive.c). */
typedef struct hdirective {
    char *text;     /* the line, for messages */
    int line;       /* its line number in the file */
    int kind;       /* directive.c's D_* */
    long long task; /* task id argument, -1 when none */
    char arg[128];  /* call name, state or finding kind; "" when none */
} hdirective;

typedef struct hexpect {
    char *path;     /* the file, for messages (NULL: not from a file) */
    hlist header;   /* comment and directive lines, kept by --update */
    hlist lines;    /* the observation lines */
    char *same_as;  /* `same-as NAME`: use that scenario's expectations */
    int subset;     /* `match subset`: only the lines listed are checked */
    hdirective *dirs;
    size_t ndirs;
} hexpect;

/* Parse an expect file (path names it in errors).  Returns 0, or -1 with a
 * reason "PATH:LINE:COLUMN: ..." (the form compilers use). */
int expect_parse(const char *path, const char *text, hexpect *e, char *err, size_t errlen);
void expect_free(hexpect *e);

/* Check that one observation line parses (used on both sides); the error
 * starts with "column N: ". */
int expect_check_line(const char *line, char *err, size_t errlen);

/* Compare expected with observed lines; readable differences (naming the
 * task and the frame) go to diffs.  With subset, observed lines that the
 * expectation does not mention are allowed.  Returns the number. */
size_t expect_compare(const hlist *expected, const hlist *observed, int subset, hlist *diffs);

/* Write header + observed lines. */
int expect_write(const char *path, const hexpect *old, const hlist *observed);

/* ---- expect_line.c -------------------------------------------------------- */

/* A tiny scanner: each call consumes what it matched; the first error
 * (static text) is kept in err. */
typedef struct hscan {
    const char *p;
    const char *err;
} hscan;
int sc_lit(hscan *s, const char *lit);                 /* optional literal */
int sc_need(hscan *s, const char *lit, const char *what);
int sc_int(hscan *s, long long *v);
int sc_word(hscan *s, char *buf, size_t len, const char *what);

typedef struct hframe hframe;
struct hframe {
    char name[128];
    long long line;  /* -1 when absent */
    char res[256];   /* resource text, "" when none */
    hframe **kids;
    size_t nkids;
};
void frame_free(hframe *f);

/* One parsed observation line (a range line gives one per task). */
typedef struct hentry {
    char *key;      /* identity: "task 3", "mode", "cycle: 2 3", ... */
    char *text;     /* the line (a range line expanded to this task) */
    char *head;     /* task lines: everything before the await tree */
    hframe *await;  /* task lines */
} hentry;

typedef struct hentries {
    hentry *v;
    size_t n, cap;
} hentries;
void entries_free(hentries *es);

/* Parse one observation line into entries; nthread numbers thread lines.
 * Returns 0, or -1 with "column N: reason" in err. */
int expect_parse_line(const char *line, hentries *out, int nthread, char *err, size_t errlen);

/* ---- directive.c ---------------------------------------------------------- */

/* Parse `expect ...` (the text after `expect `).  Returns 0 or -1 with
 * "column N: reason" (columns of the whole line). */
int directive_parse(const char *line, int lineno, hdirective *d, char *err, size_t errlen);

/* What the directives look at: the offline documents of one run. */
typedef struct hdocs {
    json_t *tasks, *deadlocks, *frames;
    json_t *diagnose;  /* `info async-diagnose --json`, NULL when GDB lacks it */
    const char *diagnose_error; /* why diagnose is NULL */
} hdocs;

/* Check every directive; a failed one adds "PATH:LINE: `expect ...`: why"
 * to diffs.  Returns the number that failed. */
size_t directives_check(const hexpect *e, const hdocs *docs, hlist *diffs);

/* ---- config / run ----------------------------------------------------------- */

typedef struct hconfig {
    const char *root;         /* source tree (NULL when installed) */
    const char *bin_dir;      /* scenario binaries */
    const char *expect_dir;   /* expect files */
    const char *out_dir;      /* work directories */
    const char *gdb_script;   /* the GDB extension's loader */
    const char *frames_script;/* native_frames.py */
    const char *cli_path;     /* build/asynctrace in the tree, or NULL: no CLI observers */
    const char *suite_name;   /* JUnit/TAP suite name */
    const char *self;         /* this harness, for replay commands */
    char *gdb_path;           /* resolved gdb */
    double timeout;           /* checkpoint timeout, seconds */
    double gdb_timeout;       /* each GDB run */
    unsigned long long seed;  /* first seed (--seed S / --seeds N) */
    unsigned long nseeds;     /* 0: no seed, the runtime's own order */
    int keep;
    int update;
    int verbose;
} hconfig;

typedef enum { H_OK, H_FAIL, H_SKIP } hverdict;

typedef struct hresult {
    hverdict verdict;
    char reason[512];
    hlist diffs;
    hlist diagnosis;   /* a hang's findings and task table */
    hlist artefacts;   /* files kept for a failure (paths) */
    double seconds;
    int seeded;        /* ran under seeds; seed is the one that failed */
    unsigned long long seed;
    unsigned long seeds_run;
    char *replay;      /* the command that replays a failed seed */
} hresult;

/* Run one scenario once; seeded: under ASYNCTRACE_SCHED_SEED=seed. */
void run_scenario(const hconfig *cfg, const char *name, int seeded,
                  unsigned long long seed, hresult *res);
/* Run it under the configured seeds (or once), stopping at the first
 * failing seed. */
void run_seeds(const hconfig *cfg, const char *name, hresult *res);
void result_free(hresult *res);

/* ---- One run of a scenario (run.c, offline.c) ------------------------------ */

enum { DOC_TASKS, DOC_DEADLOCKS, DOC_FRAMES, DOC_DIAGNOSE, DOC_N };

typedef struct hjob {
    const hconfig *cfg;
    const char *name;
    hresult *res;
    int seeded;
    unsigned long long seed;
    char *work;        /* OUT/NAME: everything of this run */
    char *bin, *expect_path, *dump, *core;
    hproc scenario;
    int rfd;           /* read end of the checkpoint pipe, -1 when closed */
    hexpect ex;
    hlist expected;    /* the expectations' lines (same-as followed) */
    int have_expect;
    hlist observed;
    json_t *live;
    json_t *at[DOC_N]; /* GDB attached to the process */
    json_t *co[DOC_N]; /* GDB on its core */
    json_t *cli[4];    /* the CLI's dump and deadlocks, on the PID and the core */
    char diag_err[300];/* why co[DOC_DIAGNOSE] is missing */
    double mark;       /* start of the current phase */
    hstr phases;       /* -v: "checkpoint 0.4s, gdb-attached 1.2s, ..." */
} hjob;

void job_fail(hjob *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *job_path(hjob *j, const char *file);
void job_phase(hjob *j, const char *name);
/* The last non-empty line of a file that is not a GDB warning. */
void last_line(const char *path, char *buf, size_t len);

/* GDB attached to the stopped scenario (its documents and a core), then
 * GDB on the core; fills j->at and j->co.  0, or -1 with the verdict set. */
int offline_take(hjob *j);
/* The scenario never reached its checkpoint (what: why): take the same
 * documents from the hung process and put its findings and task table in
 * res->diagnosis. */
void offline_diagnose(hjob *j, const char *what);

/* ---- cliobs.c ------------------------------------------------------------- */

json_t *cli_observe(const hconfig *cfg, const char *work, const char *tag,
                    const char *cmd, char **target, int ntarget, char *why, size_t len);
void cli_align_clocks(json_t *gdb, json_t *cli);

/* ---- report.c ------------------------------------------------------------- */

typedef struct hreport hreport;
/* tap: print TAP on stdout instead of the text lines; junit: write JUnit XML
 * there at the end (NULL: none). */
hreport *report_new(const hconfig *cfg, size_t total, int tap, const char *tap_file,
                    const char *junit_file);
void report_result(hreport *r, const char *name, const hresult *res);
/* The closing line and the files; returns 1 when anything failed, 0
 * otherwise, 2 when a report file could not be written. */
int report_finish(hreport *r, double seconds);

/* ---- config.c ------------------------------------------------------------- */

char *config_exe_dir(void);                       /* NULL on failure */
char *config_installed_prefix(const char *exe_dir);
char *config_find_root(const char *exe_dir);
char *config_gdb_script(const char *prefix, const char *root);
char *config_frames_script(const char *prefix, const char *root);

/* ---- suite.c -------------------------------------------------------------- */

typedef struct hsuite {
    char *name;        /* `name NAME`, else the file's base name */
    char *bin_dir;     /* relative paths are taken from the file's directory */
    char *expect_dir;
    char *gdb_script;
    double timeout, gdb_timeout;     /* 0: not set */
    unsigned long long seed;
    unsigned long nseeds;
    int has_seed;
    hlist scenarios;   /* `scenario NAME` lines, in order */
} hsuite;

/* Read a suite file; -1 with "PATH:LINE: reason" in err. */
int suite_load(const char *path, hsuite *s, char *err, size_t errlen);
void suite_free(hsuite *s);

#endif
