/* harness.h - private header of the scenario harness (build/asynctrace-harness).
 *
 * The harness runs each scenario program to its checkpoint, takes its live
 * dump (written by the scenario) and two offline dumps (GDB attached to the
 * process, GDB on a core of it), proves that they agree, and checks the
 * scenario's expect file.  Files:
 *   main.c      options, scenario discovery, the worker pool, the summary
 *   proc.c      child processes: process groups, timeouts, kill on exit
 *   run.c       one scenario from start to verdict
 *   gdbout.c    splitting GDB's output into the JSON documents it printed
 *   compare.c   live versus offline, attached versus core
 *   observe.c   the address-free observation of a run (expect lines)
 *   expect.c    expect files: parse, compare, write
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

typedef struct hexpect {
    hlist header;   /* comment and directive lines, kept by --update */
    hlist lines;    /* the observation lines */
    char *same_as;  /* `same-as NAME`: use that scenario's expectations */
} hexpect;

/* Parse an expect file.  Returns 0, or -1 with a reason ("line 4: ...").
 * Every observation line is checked against the grammar. */
int expect_parse(const char *text, hexpect *e, char *err, size_t errlen);
void expect_free(hexpect *e);

/* Check that one observation line parses (used on both sides). */
int expect_check_line(const char *line, char *err, size_t errlen);

/* Compare expected with observed lines; readable differences (naming the
 * task and the frame) go to diffs.  Returns their number. */
size_t expect_compare(const hlist *expected, const hlist *observed, hlist *diffs);

/* Write header + observed lines. */
int expect_write(const char *path, const hexpect *old, const hlist *observed);

/* ---- run.c -------------------------------------------------------------- */

typedef struct hconfig {
    const char *root;         /* source tree (scenarios/, gdb/) */
    const char *bin_dir;      /* scenario binaries */
    const char *expect_dir;   /* expect files */
    const char *out_dir;      /* build/harness */
    const char *gdb_script;   /* gdb/asynctrace-gdb.py */
    const char *frames_script;/* harness/native_frames.py */
    const char *cli_path;     /* build/asynctrace, or NULL: no CLI observers */
    char *gdb_path;           /* resolved gdb */
    double timeout;           /* checkpoint timeout, seconds */
    double gdb_timeout;       /* each GDB run */
    int keep;
    int update;
    int verbose;
} hconfig;

typedef enum { H_OK, H_FAIL, H_SKIP } hverdict;

typedef struct hresult {
    hverdict verdict;
    char reason[512];
    hlist diffs;
    double seconds;
} hresult;

void run_scenario(const hconfig *cfg, const char *name, hresult *res);

/* cliobs.c */
json_t *cli_observe(const hconfig *cfg, const char *work, const char *tag,
                    const char *cmd, char **target, int ntarget, char *why, size_t len);
void cli_align_clocks(json_t *gdb, json_t *cli);

#endif
