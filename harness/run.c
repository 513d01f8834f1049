/* run.c - one scenario, from start to verdict.
 *
 *  1. start build/scenarios/NAME in its own process group, with
 *     ASYNCTRACE_HARNESS_FD (write end of a pipe) and ASYNCTRACE_HARNESS_DUMP
 *     (where to write the live dump) in its environment;
 *  2. wait for its checkpoint line on the pipe: `ready live`, `ready
 *     offline` (runtime hung on purpose: no live dump), `skip REASON` or
 *     `fail REASON`;
 *  3. GDB attached to it prints `info async-tasks --json` and
 *     `info async-deadlocks --json` (the extension) and every thread's
 *     native frames (harness/native_frames.py, GDB's own unwinder), then
 *     writes a core (what gcore does);
 *  4. the scenario is killed (its whole process group);
 *  5. GDB on the core prints the same two documents;
 *  6. attached == core, live ~ offline (compare.c), observation == expect
 *     file (expect.c).
 *
 * Everything is written to build/harness/NAME/, removed on success unless
 * --keep. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

typedef struct job {
    const hconfig *cfg;
    const char *name;
    hresult *res;
    char *work;      /* build/harness/NAME */
    hproc scenario;
    double mark;     /* start of the current phase */
    hstr phases;     /* -v: "checkpoint 0.4s, gdb-attached 1.2s, ..." */
} job;

/* Close the current phase (for -v). */
static void phase(job *j, const char *name)
{
    double now = h_now();
    hstr_printf(&j->phases, "%s%s %.2fs", j->phases.len ? ", " : "", name, now - j->mark);
    j->mark = now;
}

static void failf(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(job *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->res->reason, sizeof j->res->reason, fmt, ap);
    va_end(ap);
    j->res->verdict = H_FAIL;
}

static char *work_path(job *j, const char *file)
{
    return h_asprintf("%s/%s", j->work, file);
}

/* The last non-empty line of a file that is not a GDB warning, for
 * failure reasons. */
static void last_line(const char *path, char *buf, size_t len)
{
    buf[0] = 0;
    char *s = h_read_file(path, NULL);
    if (!s)
        return;
    char *save = NULL;
    for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ')
            line++;
        if (*line && strncmp(line, "warning:", 8))
            snprintf(buf, len, "%s", line);
    }
    free(s);
}

static void with_stderr(job *j, const char *what)
{
    char *err = work_path(j, "scenario.stderr");
    char tail[200];
    last_line(err, tail, sizeof tail);
    free(err);
    if (*tail)
        failf(j, "%s (stderr: %s)", what, tail);
    else
        failf(j, "%s", what);
}

/* Wait for the checkpoint line.  Returns 1 ready-live, 0 ready-offline,
 * -1 when the verdict is already decided (fail/skip). */
static int await_checkpoint(job *j, int rfd)
{
    char line[512];
    size_t len = 0;
    double end = h_now() + j->cfg->timeout;
    for (;;) {
        double left = end - h_now();
        if (left <= 0) {
            char what[128];
            snprintf(what, sizeof what, "did not reach its checkpoint within %.0fs",
                     j->cfg->timeout);
            with_stderr(j, what);
            return -1;
        }
        struct pollfd pfd = {.fd = rfd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            continue;
        ssize_t n = read(rfd, line + len, sizeof line - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* The write end closed: the scenario is gone. */
            char st[96], what[192];
            if (proc_wait(&j->scenario, 5)) {
                with_stderr(j, "closed its checkpoint fd without a checkpoint line");
                return -1;
            }
            proc_describe_status(j->scenario.status, st, sizeof st);
            snprintf(what, sizeof what, "%s before its checkpoint", st);
            with_stderr(j, what);
            return -1;
        }
        len += (size_t)n;
        line[len] = 0;
        char *nl = strchr(line, '\n');
        if (!nl) {
            if (len == sizeof line - 1) {
                failf(j, "checkpoint line too long");
                return -1;
            }
            continue;
        }
        *nl = 0;
        if (!strcmp(line, "ready live"))
            return 1;
        if (!strcmp(line, "ready offline"))
            return 0;
        if (!strncmp(line, "skip ", 5)) {
            j->res->verdict = H_SKIP;
            snprintf(j->res->reason, sizeof j->res->reason, "%s", line + 5);
            return -1;
        }
        if (!strncmp(line, "fail ", 5)) {
            failf(j, "scenario reports: %s", line + 5);
            return -1;
        }
        failf(j, "unexpected checkpoint line `%.100s`", line);
        return -1;
    }
}

/* The live dump file: one document, or several (one per runtime) whose
 * runtimes are merged into the first. */
static json_t *load_live(job *j, const char *path)
{
    size_t len;
    char *text = h_read_file(path, &len);
    if (!text) {
        failf(j, "checkpoint said `ready live` but there is no live dump (%s)", strerror(errno));
        return NULL;
    }
    json_t *doc = NULL;
    size_t off = 0;
    for (;;) {
        while (off < len && strchr(" \t\r\n", text[off]))
            off++;
        if (off >= len)
            break;
        json_error_t je;
        size_t used = 0;
        json_t *d = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK, &je);
        if (!d || !json_is_object(d)) {
            failf(j, "live dump is not valid JSON (line %d, column %d: %s)",
                  d ? 1 : je.line, d ? 1 : je.column, d ? "not an object" : je.text);
            json_decref(d);
            json_decref(doc);
            free(text);
            return NULL;
        }
        used = (size_t)je.position;
        if (!doc) {
            doc = d;
        } else {
            json_t *rts = j_arr(doc, "runtimes"), *more = j_arr(d, "runtimes");
            if (rts && more)
                json_array_extend(rts, more);
            json_decref(d);
        }
        if (!used)
            break;
        off += used;
    }
    free(text);
    if (!doc)
        failf(j, "live dump is empty");
    else if (!j_str(doc, "format") || strcmp(j_str(doc, "format"), "asynctrace-trace"))
        failf(j, "live dump is not an asynctrace-trace document");
    if (j->res->verdict == H_FAIL) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Run GDB with the two commands; `target` is `-p PID` or `BIN CORE`.
 * Returns its stdout (malloc'd) or NULL with the verdict set. */
static char *run_gdb(job *j, const char *tag, char **target, int ntarget, const char *core)
{
    const hconfig *cfg = j->cfg;
    char *src = h_asprintf("source %s", cfg->gdb_script);
    char *src2 = h_asprintf("source %s", cfg->frames_script);
    char *m4 = h_asprintf("echo \n" GDB_MARK "frames@@\n");
    char *m1 = h_asprintf("echo \\n" GDB_MARK "tasks@@\\n");
    char *m2 = h_asprintf("echo \\n" GDB_MARK "deadlocks@@\\n");
    char *m3 = h_asprintf("echo \\n" GDB_MARK "end@@\\n");
    char *gen = core ? h_asprintf("generate-core-file %s", core) : NULL;
    char *argv[40];
    int n = 0;
    argv[n++] = cfg->gdb_path;
    argv[n++] = "-batch";
    argv[n++] = "-nx";
    argv[n++] = "-iex";
    argv[n++] = "set debuginfod enabled off";
    argv[n++] = "-iex";
    argv[n++] = "set auto-load python-scripts off";
    for (int i = 0; i < ntarget; i++)
        argv[n++] = target[i];
    argv[n++] = "-ex";
    argv[n++] = src;
    argv[n++] = "-ex";
    argv[n++] = m1;
    argv[n++] = "-ex";
    argv[n++] = "info async-tasks --json";
    argv[n++] = "-ex";
    argv[n++] = m2;
    argv[n++] = "-ex";
    argv[n++] = "info async-deadlocks --json";
    argv[n++] = "-ex";
    argv[n++] = src2;
    argv[n++] = "-ex";
    argv[n++] = m4;
    argv[n++] = "-ex";
    argv[n++] = "asynctrace-harness-frames";
    argv[n++] = "-ex";
    argv[n++] = m3;
    if (gen) {
        argv[n++] = "-ex";
        argv[n++] = gen;
    }
    argv[n] = NULL;
    char *outp = h_asprintf("%s/gdb-%s.out", j->work, tag);
    char *errp = h_asprintf("%s/gdb-%s.err", j->work, tag);
    int status = 0;
    int rc = proc_run(argv, outp, errp, cfg->gdb_timeout, &status);
    char *out = NULL;
    if (rc == -ETIMEDOUT) {
        failf(j, "GDB (%s) did not finish within %.0fs", tag, cfg->gdb_timeout);
    } else if (rc) {
        failf(j, "cannot run %s: %s", cfg->gdb_path, strerror(-rc));
    } else {
        out = h_read_file(outp, NULL);
        if (!out)
            failf(j, "cannot read GDB's output %s", outp);
    }
    if (out && j->res->verdict != H_FAIL && (!core || h_file_exists(core))) {
        /* fine */
    } else if (out && core && !h_file_exists(core)) {
        char tail[200];
        last_line(errp, tail, sizeof tail);
        failf(j, "GDB wrote no core file%s%s", *tail ? ": " : "", tail);
        free(out);
        out = NULL;
    }
    free(src);
    free(src2);
    free(m4);
    free(m1);
    free(m2);
    free(m3);
    free(gen);
    free(outp);
    free(errp);
    return out;
}

static json_t *gdb_doc(job *j, const char *out, const char *tag, const char *doc)
{
    char err[400];
    json_t *d = gdbout_document(out, doc, err, sizeof err);
    if (!d) {
        /* No document at all: GDB's last complaint usually says why. */
        char tail[200] = "";
        if (!strstr(err, "invalid JSON") && !strstr(err, "not an object")) {
            char *errp = h_asprintf("%s/gdb-%s.err", j->work, tag);
            last_line(errp, tail, sizeof tail);
            free(errp);
        }
        failf(j, "GDB %s: %s%s%s", tag, err, *tail ? "; stderr: " : "", tail);
        return NULL;
    }
    return d; /* save_doc() writes a copy when the run is kept */
}

/* Pretty-printed copies of the documents, for a person reading a failure. */
static void save_doc(job *j, json_t *d, const char *file)
{
    if (!d)
        return;
    char *p = work_path(j, file);
    json_dump_file(d, p, JSON_INDENT(1));
    free(p);
}

static void save_diffs(job *j)
{
    hstr b = {0};
    hstr_printf(&b, "%s: %s\n", j->name, j->res->reason);
    for (size_t i = 0; i < j->res->diffs.n; i++)
        hstr_printf(&b, "  %s\n", j->res->diffs.v[i]);
    char *p = work_path(j, "diff.txt");
    h_write_file(p, b.s, b.len);
    free(p);
    hstr_free(&b);
}

/* Load the expectations (following same-as once). */
static int load_expect(job *j, const char *path, hexpect *e, hlist *lines, int *have)
{
    *have = 0;
    char *text = h_read_file(path, NULL);
    if (!text) {
        if (errno == ENOENT)
            return 0; /* decided after the checkpoint: a skip needs none */
        failf(j, "cannot read %s: %s", h_rel(path), strerror(errno));
        return -1;
    }
    char err[400];
    int rc = expect_parse(text, e, err, sizeof err);
    free(text);
    if (rc) {
        failf(j, "%s does not parse: %s", h_rel(path), err);
        return -1;
    }
    if (e->same_as) {
        char *other = h_asprintf("%s/%s.expect", j->cfg->expect_dir, e->same_as);
        hexpect oe;
        char *ot = h_read_file(other, NULL);
        if (!ot) {
            failf(j, "same-as %s: cannot read %s", e->same_as, other);
            free(other);
            return -1;
        }
        rc = expect_parse(ot, &oe, err, sizeof err);
        free(ot);
        if (rc) {
            failf(j, "%s does not parse: %s", other, err);
            free(other);
            return -1;
        }
        free(other);
        for (size_t i = 0; i < oe.lines.n; i++)
            hlist_add(lines, oe.lines.v[i]);
        expect_free(&oe);
    } else {
        for (size_t i = 0; i < e->lines.n; i++)
            hlist_add(lines, e->lines.v[i]);
    }
    *have = 1;
    return 0;
}

static void drop_mode_line(hlist *l)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!strncmp(l->v[i], "mode ", 5))
            free(l->v[i]);
        else
            l->v[k++] = l->v[i];
    }
    l->n = k;
}

static void run_checked(job *j)
{
    const hconfig *cfg = j->cfg;
    char *bin = h_asprintf("%s/%s", cfg->bin_dir, j->name);
    char *expect_path = h_asprintf("%s/%s.expect", cfg->expect_dir, j->name);
    char *dump = work_path(j, "live.json");
    char *core = work_path(j, "core");
    hexpect ex = {0};
    hlist expected = {0}, observed = {0};
    int have_expect = 0;
    json_t *live = NULL, *at = NULL, *atd = NULL, *atf = NULL, *co = NULL, *cod = NULL,
           *cof = NULL, *cp = NULL, *cpd = NULL, *cc = NULL, *ccd = NULL;
    char clipid[32], cliwhy[512] = "";
    char *out = NULL;
    int pfd[2] = {-1, -1};

    if (access(bin, X_OK)) {
        failf(j, "no scenario binary %s", h_rel(bin));
        goto done;
    }
    if (load_expect(j, expect_path, &ex, &expected, &have_expect))
        goto done;

    if (pipe2(pfd, O_CLOEXEC)) {
        failf(j, "pipe: %s", strerror(errno));
        goto done;
    }
    char *env[3];
    env[0] = h_asprintf("ASYNCTRACE_HARNESS_FD=%d", pfd[1]);
    env[1] = h_asprintf("ASYNCTRACE_HARNESS_DUMP=%s", dump);
    env[2] = NULL;
    char *argv[] = {bin, NULL};
    char *so = work_path(j, "scenario.stdout"), *se = work_path(j, "scenario.stderr");
    int rc = proc_start(&j->scenario, argv, env, so, se, pfd[1]);
    free(so);
    free(se);
    free(env[0]);
    free(env[1]);
    close(pfd[1]);
    pfd[1] = -1;
    if (rc) {
        failf(j, "cannot start %s: %s", bin, strerror(-rc));
        goto done;
    }
    int mode = await_checkpoint(j, pfd[0]);
    if (mode < 0)
        goto done;
    phase(j, "checkpoint");
    if (mode == 1 && !(live = load_live(j, dump)))
        goto done;
    if (mode == 1)
        phase(j, "live-parse");

    /* The CLI on the PID (it stops the process while it reads). */
    snprintf(clipid, sizeof clipid, "%d", (int)j->scenario.pid);
    if (cfg->cli_path) {
        char *t[] = {clipid};
        char *d = h_asprintf("%s/cli-pid-dump.json", j->work);
        char *td[] = {d};
        cp = cli_observe(cfg, j->work, "pid", "dump", t, 1, cliwhy, sizeof cliwhy);
        if (cp)
            cpd = cli_observe(cfg, j->work, "pid", "deadlocks", td, 1, cliwhy, sizeof cliwhy);
        free(d);
        if (!cpd) {
            failf(j, "%s", cliwhy);
            goto done;
        }
        phase(j, "cli-pid");
    }

    /* Offline, attached (and the core, in the same stop). */
    char pidbuf[32];
    snprintf(pidbuf, sizeof pidbuf, "%d", (int)j->scenario.pid);
    char *attach[] = {"-p", pidbuf};
    out = run_gdb(j, "attached", attach, 2, core);
    phase(j, "gdb-attached+gcore");
    if (!out) {
        if (!proc_wait(&j->scenario, 0)) {
            char st[96];
            proc_describe_status(j->scenario.status, st, sizeof st);
            failf(j, "scenario %s after its checkpoint", st);
        }
        goto done;
    }
    if (!proc_wait(&j->scenario, 0)) {
        char st[96];
        proc_describe_status(j->scenario.status, st, sizeof st);
        failf(j, "scenario %s after its checkpoint (while GDB was attached)", st);
        goto done;
    }
    proc_kill(&j->scenario);
    if (!(at = gdb_doc(j, out, "attached", "tasks")) ||
        !(atd = gdb_doc(j, out, "attached", "deadlocks")) ||
        !(atf = gdb_doc(j, out, "attached", "frames")))
        goto done;
    free(out);
    phase(j, "parse-attached");

    char *oncore[] = {bin, core};
    out = run_gdb(j, "core", oncore, 2, NULL);
    if (!out)
        goto done;
    phase(j, "gdb-core");
    if (!(co = gdb_doc(j, out, "core", "tasks")) ||
        !(cod = gdb_doc(j, out, "core", "deadlocks")) ||
        !(cof = gdb_doc(j, out, "core", "frames")))
        goto done;
    phase(j, "parse-core");
    if (cfg->cli_path) {
        char *t[] = {core, bin};
        char *d = h_asprintf("%s/cli-core-dump.json", j->work);
        char *td[] = {d};
        cc = cli_observe(cfg, j->work, "core", "dump", t, 2, cliwhy, sizeof cliwhy);
        if (cc)
            ccd = cli_observe(cfg, j->work, "core", "deadlocks", td, 1, cliwhy, sizeof cliwhy);
        free(d);
        if (!ccd) {
            failf(j, "%s", cliwhy);
            goto done;
        }
        phase(j, "cli-core");
    }

    /* What the run shows, in expect syntax (kept with a failed run). */
    observe(co, cod, cof, mode == 1, &observed);
    for (size_t i = 0; i < observed.n; i++) {
        char why[256];
        if (expect_check_line(observed.v[i], why, sizeof why)) {
            failf(j, "harness bug: observation line does not parse: %s", why);
            hlist_add(&j->res->diffs, observed.v[i]);
            goto done;
        }
    }

    size_t nd = compare_offline(at, co, "attached vs core", &j->res->diffs);
    nd += compare_offline(atd, cod, "deadlocks attached vs core", &j->res->diffs);
    nd += compare_offline(atf, cof, "native frames attached vs core", &j->res->diffs);
    size_t nc = 0;
    if (cp) {
        cli_align_clocks(at, cp);
        nc += compare_offline(at, cp, "GDB attached vs the CLI on the PID", &j->res->diffs);
        nc += compare_offline(atd, cpd, "deadlocks GDB attached vs the CLI on the PID",
                              &j->res->diffs);
        nc += compare_offline(co, cc, "GDB on the core vs the CLI on the core",
                              &j->res->diffs);
        nc += compare_offline(cod, ccd, "deadlocks GDB on the core vs the CLI on the core",
                              &j->res->diffs);
    }
    size_t nl = live ? compare_live(live, co, &j->res->diffs) : 0;
    phase(j, "compare");
    if (nd || nl || nc) {
        failf(j, "%s%s%s%s%s", nd ? "attached and core dumps differ" : "",
              nd && nl ? "; " : "", nl ? "live and offline dumps differ" : "",
              (nd || nl) && nc ? "; " : "", nc ? "GDB's and the CLI's readings differ" : "");
        goto done;
    }

    if (!have_expect && !cfg->update) {
        failf(j, "no expect file %s (run with --update to create it)", h_rel(expect_path));
        goto done;
    }
    if (cfg->update && !ex.same_as) {
        int wrc = expect_write(expect_path, have_expect ? &ex : NULL, &observed);
        if (wrc) {
            failf(j, "cannot write %s: %s", expect_path, strerror(-wrc));
            goto done;
        }
        size_t d = have_expect ? expect_compare(&expected, &observed, &j->res->diffs) : 0;
        hlist_free(&j->res->diffs);
        snprintf(j->res->reason, sizeof j->res->reason, "%s %s", have_expect ?
                 (d ? "updated" : "unchanged") : "created", h_rel(expect_path));
        goto done;
    }
    if (ex.same_as) {
        /* Another build of the same program: the same tasks, whatever the
         * mode (a stripped build takes no live dump). */
        drop_mode_line(&expected);
        drop_mode_line(&observed);
    }
    if (expect_compare(&expected, &observed, &j->res->diffs)) {
        if (ex.same_as)
            failf(j, "does not match %s/%s.expect (same-as)", h_rel(cfg->expect_dir), ex.same_as);
        else
            failf(j, "does not match %s", h_rel(expect_path));
        goto done;
    }

done:
    phase(j, "expect");
    if (j->scenario.pid > 0)
        proc_kill(&j->scenario);
    if (j->res->verdict == H_FAIL || cfg->keep) {
        save_doc(j, at, "attached-tasks.json");
        save_doc(j, atd, "attached-deadlocks.json");
        save_doc(j, atf, "attached-frames.json");
        save_doc(j, co, "core-tasks.json");
        save_doc(j, cod, "core-deadlocks.json");
        save_doc(j, cof, "core-frames.json");
        if (observed.n) {
            hstr b = {0};
            for (size_t i = 0; i < observed.n; i++)
                hstr_printf(&b, "%s\n", observed.v[i]);
            char *p = work_path(j, "observed.expect");
            h_write_file(p, b.s, b.len);
            free(p);
            hstr_free(&b);
        }
    }
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    free(out);
    json_decref(live);
    json_decref(cp);
    json_decref(cpd);
    json_decref(cc);
    json_decref(ccd);
    json_decref(at);
    json_decref(atd);
    json_decref(co);
    json_decref(cod);
    json_decref(atf);
    json_decref(cof);
    expect_free(&ex);
    hlist_free(&expected);
    hlist_free(&observed);
    free(bin);
    free(expect_path);
    free(dump);
    free(core);
    phase(j, "free");
}

void run_scenario(const hconfig *cfg, const char *name, hresult *res)
{
    job j = {.cfg = cfg, .name = name, .res = res};
    memset(res, 0, sizeof *res);
    res->verdict = H_OK;
    double t0 = h_now();
    j.mark = t0;
    j.work = h_asprintf("%s/%s", cfg->out_dir, name);
    h_rm_rf(j.work);
    int rc = h_mkdir_p(j.work);
    if (rc)
        failf(&j, "cannot create %s: %s", j.work, strerror(-rc));
    else
        run_checked(&j);
    res->seconds = h_now() - t0;
    if (cfg->verbose)
        hlist_printf(&res->diffs, "time: %s", j.phases.s);
    hstr_free(&j.phases);
    if (res->verdict == H_FAIL) {
        save_diffs(&j);
    } else if (!cfg->keep) {
        h_rm_rf(j.work);
    }
    free(j.work);
}
