/* offline.c - the offline traces of one run, and the diagnosis of a hang.
 *
 * GDB attached to the stopped scenario prints `info async-tasks --json`,
 * `info async-deadlocks --json`, `info async-diagnose --json` (when the
 * extension has it) and every thread's native frames
 * (harness/native_frames.py), then writes a core; GDB on that core prints
 * the same documents.  A scenario that never reached its checkpoint gets
 * the same treatment: the documents of the hung process are its diagnosis. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *const doc_names[DOC_N] = {"tasks", "deadlocks", "frames", "diagnose"};

/* The -ex commands of one GDB run, after the target. */
typedef struct gdb_cmds {
    char *argv[48];
    int n;
    char *owned[16];
    int nowned;
} gdb_cmds;

static void ex(gdb_cmds *c, char *cmd, int owned)
{
    c->argv[c->n++] = "-ex";
    c->argv[c->n++] = cmd;
    if (owned)
        c->owned[c->nowned++] = cmd;
}

/* Print document `name` after its marker line. */
static void ex_doc(gdb_cmds *c, const char *name, const char *cmd)
{
    ex(c, h_asprintf("echo \\n" GDB_MARK "%s@@\\n", name), 1);
    ex(c, (char *)cmd, 0);
}

static void build_cmds(const hconfig *cfg, gdb_cmds *c, char **target, int ntarget,
                       const char *core, int table)
{
    c->n = c->nowned = 0;
    static char *const head[] = {"-batch", "-nx", "-iex", "set debuginfod enabled off",
                                 "-iex", "set auto-load python-scripts off"};
    c->argv[c->n++] = cfg->gdb_path;
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        c->argv[c->n++] = head[i];
    for (int i = 0; i < ntarget; i++)
        c->argv[c->n++] = target[i];
    ex(c, h_asprintf("source %s", cfg->gdb_script), 1);
    ex_doc(c, "tasks", "info async-tasks --json");
    ex_doc(c, "deadlocks", "info async-deadlocks --json");
    ex_doc(c, "diagnose", "info async-diagnose --json");
    ex(c, h_asprintf("source %s", cfg->frames_script), 1);
    ex_doc(c, "frames", "asynctrace-harness-frames");
    if (table)
        ex_doc(c, "table", "info async-tasks");
    ex(c, h_asprintf("echo \\n" GDB_MARK "end@@\\n"), 1);
    if (core)
        ex(c, h_asprintf("generate-core-file %s", core), 1);
    c->argv[c->n] = NULL;
}

/* Run GDB on `target` (`-p PID` or `BIN CORE`), writing a core when core
 * is set.  Returns its stdout (malloc'd) or NULL with the verdict set. */
static char *run_gdb(hjob *j, const char *tag, char **target, int ntarget, const char *core,
                     int table)
{
    const hconfig *cfg = j->cfg;
    gdb_cmds c;
    build_cmds(cfg, &c, target, ntarget, core, table);
    char *outp = h_asprintf("%s/gdb-%s.out", j->work, tag);
    char *errp = h_asprintf("%s/gdb-%s.err", j->work, tag);
    int status = 0;
    int rc = proc_run(c.argv, outp, errp, cfg->gdb_timeout, &status);
    char *out = NULL;
    if (rc == -ETIMEDOUT)
        job_fail(j, "GDB (%s) did not finish within %.0fs", tag, cfg->gdb_timeout);
    else if (rc)
        job_fail(j, "cannot run %s: %s", cfg->gdb_path, strerror(-rc));
    else if (!(out = h_read_file(outp, NULL)))
        job_fail(j, "cannot read GDB's output %s", outp);
    if (out && core && !h_file_exists(core)) {
        char tail[200];
        last_line(errp, tail, sizeof tail);
        job_fail(j, "GDB wrote no core file%s%s", *tail ? ": " : "", tail);
        free(out);
        out = NULL;
    }
    for (int i = 0; i < c.nowned; i++)
        free(c.owned[i]);
    free(outp);
    free(errp);
    return out;
}

/* The extension's own complaint (its first `asynctrace:` line) or GDB's
 * last line. */
static void gdb_complaint(const char *errp, char *buf, size_t len)
{
    char *s = h_read_file(errp, NULL);
    const char *a = s ? strstr(s, "asynctrace: ") : NULL;
    if (a && (a == s || a[-1] == '\n'))
        snprintf(buf, len, "%.*s", (int)strcspn(a, "\n"), a);
    else
        last_line(errp, buf, len);
    free(s);
}

static json_t *gdb_doc(hjob *j, const char *out, const char *tag, const char *doc)
{
    char err[400];
    json_t *d = gdbout_document(out, doc, err, sizeof err);
    if (!d) {
        /* No document at all: GDB's last complaint usually says why. */
        char tail[200] = "";
        if (!strstr(err, "invalid JSON") && !strstr(err, "not an object")) {
            char *errp = h_asprintf("%s/gdb-%s.err", j->work, tag);
            gdb_complaint(errp, tail, sizeof tail);
            free(errp);
        }
        job_fail(j, "GDB %s: %s%s%s", tag, err, *tail ? "; stderr: " : "", tail);
    }
    return d;
}

/* The documents of one GDB run; diagnose is optional (older extensions). */
static int gdb_docs(hjob *j, const char *out, const char *tag, json_t **docs)
{
    for (int i = 0; i < DOC_N; i++) {
        if (i == DOC_DIAGNOSE) {
            char err[300];
            docs[i] = gdbout_document(out, doc_names[i], err, sizeof err);
            if (!docs[i]) {
                char *errp = h_asprintf("%s/gdb-%s.err", j->work, tag);
                gdb_complaint(errp, j->diag_err, sizeof j->diag_err);
                free(errp);
            }
            continue;
        }
        if (!(docs[i] = gdb_doc(j, out, tag, doc_names[i])))
            return -1;
    }
    return 0;
}

/* GDB attached (and gcore), then the scenario killed; table: also print
 * the text task table on the core.  0 or -1 (verdict set). */
static int take(hjob *j, int table)
{
    char pidbuf[32];
    snprintf(pidbuf, sizeof pidbuf, "%d", (int)j->scenario.pid);
    char *attach[] = {"-p", pidbuf};
    char *out = run_gdb(j, "attached", attach, 2, j->core, 0);
    job_phase(j, "gdb-attached+gcore");
    if (!proc_wait(&j->scenario, 0)) {
        char st[96];
        proc_describe_status(j->scenario.status, st, sizeof st);
        job_fail(j, "scenario %s after its checkpoint%s", st, out ? " (while GDB was attached)" : "");
        free(out);
        return -1;
    }
    proc_kill(&j->scenario);
    int rc = out ? gdb_docs(j, out, "attached", j->at) : -1;
    free(out);
    if (rc)
        return -1;
    char *oncore[] = {j->bin, j->core};
    out = run_gdb(j, "core", oncore, 2, NULL, table);
    job_phase(j, "gdb-core");
    rc = out ? gdb_docs(j, out, "core", j->co) : -1;
    if (!rc && table) {
        const char *m = strstr(out, GDB_MARK "table@@\n");
        const char *end = m ? strstr(m + 1, GDB_MARK) : NULL;
        if (m && end) {
            m += strlen(GDB_MARK "table@@\n");
            char *p = job_path(j, "tasks.txt");
            h_write_file(p, m, (size_t)(end - m));
            free(p);
        }
    }
    free(out);
    return rc;
}

int offline_take(hjob *j)
{
    return take(j, 0);
}

/* ---- The diagnosis of a hang ---------------------------------------------- */

/* One line per finding of `info async-diagnose --json`:
 * "finding: cycle (proven): 2 tasks wait for each other ...: tasks 2, 3". */
static void diagnose_findings(json_t *diag, hlist *out)
{
    size_t i, k;
    json_t *f, *t;
    json_array_foreach(j_arr(diag, "findings"), i, f) {
        const char *kind = j_str(f, "kind"), *cert = j_str(f, "certainty");
        const char *title = j_str(f, "title");
        hstr b = {0};
        hstr_printf(&b, "finding: %s", kind ? kind : "?");
        if (cert)
            hstr_printf(&b, " (%s)", cert);
        if (title)
            hstr_printf(&b, ": %s", title);
        json_array_foreach(j_arr(f, "tasks"), k, t)
            hstr_printf(&b, "%s%lld", k ? ", " : "; tasks ", j_int(t, "task", 0));
        hlist_add(out, b.s);
        hstr_free(&b);
    }
}

/* "3 tasks; 1 cycle (2 -> 3 -> 2 via mutex, mutex), 1 stuck task" */
static void summarize(const hlist *lines, char *buf, size_t len)
{
    long long ntasks = 0, a, b;
    size_t ncyc = 0, nstuck = 0, nculprit = 0;
    const char *first = NULL;
    for (size_t i = 0; i < lines->n; i++) {
        const char *l = lines->v[i];
        if (!strncmp(l, "cycle: ", 7) && !ncyc++)
            first = l + 7;
        nstuck += !strncmp(l, "stuck: ", 7);
        nculprit += !strncmp(l, "culprit: ", 9);
        if (!strncmp(l, "task ", 5))
            ntasks++;
        else if (sscanf(l, "tasks %lld..%lld", &a, &b) == 2)
            ntasks += b - a + 1;
    }
    if (!ntasks) {
        snprintf(buf, len, "no asynctrace task in the process");
        return;
    }
    hstr s = {0};
    hstr_printf(&s, "%lld task%s", ntasks, ntasks == 1 ? "" : "s");
    if (ncyc)
        hstr_printf(&s, "; %zu cycle%s (%s)", ncyc, ncyc == 1 ? "" : "s", first);
    if (nstuck)
        hstr_printf(&s, "; %zu stuck task%s", nstuck, nstuck == 1 ? "" : "s");
    if (nculprit)
        hstr_printf(&s, "; %zu task%s stuck inside a poll", nculprit, nculprit == 1 ? "" : "s");
    if (!ncyc && !nstuck && !nculprit)
        hstr_add(&s, "; no deadlock found (every task waits for something that may still come)");
    snprintf(buf, len, "%s", s.s);
    hstr_free(&s);
}

void offline_diagnose(hjob *j, const char *what)
{
    hresult *r = j->res;
    char saved[512];
    snprintf(saved, sizeof saved, "%s", what);
    if (take(j, 1)) {
        char why[512];
        snprintf(why, sizeof why, "%s", r->reason);
        job_fail(j, "%s (no diagnosis: %.300s)", saved, why);
        return;
    }
    hlist obs = {0};
    observe(j->co[DOC_TASKS], j->co[DOC_DEADLOCKS], j->co[DOC_FRAMES], 0, &obs);
    /* Findings first, then the task table. */
    diagnose_findings(j->co[DOC_DIAGNOSE], &r->diagnosis);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < obs.n; i++) {
            int finding = !strncmp(obs.v[i], "cycle: ", 7) || !strncmp(obs.v[i], "stuck: ", 7) ||
                          !strncmp(obs.v[i], "culprit: ", 9);
            if (finding == !pass && strncmp(obs.v[i], "mode ", 5))
                hlist_add(&r->diagnosis, obs.v[i]);
        }
    char sum[300];
    summarize(&obs, sum, sizeof sum);
    job_fail(j, "%s; diagnosis: %s", saved, sum);
    hstr b = {0};
    for (size_t i = 0; i < r->diagnosis.n; i++)
        hstr_printf(&b, "%s\n", r->diagnosis.v[i]);
    char *p = job_path(j, "diagnosis.txt");
    h_write_file(p, b.s ? b.s : "", b.len);
    free(p);
    hstr_free(&b);
    hlist_free(&obs);
}
