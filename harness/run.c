/* run.c - one scenario, from start to verdict.
 *
 *  1. start BIN_DIR/NAME in its own process group, with
 *     ASYNCTRACE_HARNESS_FD (write end of a pipe), ASYNCTRACE_HARNESS_DUMP
 *     (where to write the live dump) and, under a seed,
 *     ASYNCTRACE_SCHED_SEED in its environment;
 *  2. wait for its checkpoint line on the pipe: `ready live`, `ready
 *     offline` (runtime hung on purpose: no live dump), `skip REASON` or
 *     `fail REASON`; a scenario that stays silent past the timeout is
 *     diagnosed (offline.c) instead;
 *  3. the offline traces: GDB attached, a core, GDB on the core (offline.c);
 *  4. attached == core, live ~ offline (compare.c), observation == expect
 *     file (expect.c), directives hold (directive.c).
 *
 * Everything is written to OUT/NAME/, removed on success unless --keep. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

void job_phase(hjob *j, const char *name)
{
    double now = h_now();
    hstr_printf(&j->phases, "%s%s %.2fs", j->phases.len ? ", " : "", name, now - j->mark);
    j->mark = now;
}

void job_fail(hjob *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->res->reason, sizeof j->res->reason, fmt, ap);
    va_end(ap);
    j->res->verdict = H_FAIL;
}

char *job_path(hjob *j, const char *file)
{
    return h_asprintf("%s/%s", j->work, file);
}

void last_line(const char *path, char *buf, size_t len)
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

static void with_stderr(hjob *j, const char *what)
{
    char *err = job_path(j, "scenario.stderr");
    char tail[200];
    last_line(err, tail, sizeof tail);
    free(err);
    if (*tail)
        job_fail(j, "%s (stderr: %s)", what, tail);
    else
        job_fail(j, "%s", what);
}

/* ---- The checkpoint ----------------------------------------------------------- */

enum { CP_DECIDED = -1, CP_TIMEOUT = -2, CP_OFFLINE = 0, CP_LIVE = 1 };

/* The pipe closed: the scenario is gone. */
static int checkpoint_eof(hjob *j)
{
    char st[96], what[192];
    if (proc_wait(&j->scenario, 5)) {
        with_stderr(j, "closed its checkpoint fd without a checkpoint line");
        return CP_DECIDED;
    }
    proc_describe_status(j->scenario.status, st, sizeof st);
    snprintf(what, sizeof what, "%s before its checkpoint", st);
    with_stderr(j, what);
    return CP_DECIDED;
}

static int checkpoint_line(hjob *j, const char *line)
{
    if (!strcmp(line, "ready live"))
        return CP_LIVE;
    if (!strcmp(line, "ready offline"))
        return CP_OFFLINE;
    if (!strncmp(line, "skip ", 5)) {
        j->res->verdict = H_SKIP;
        snprintf(j->res->reason, sizeof j->res->reason, "%s", line + 5);
    } else if (!strncmp(line, "fail ", 5)) {
        job_fail(j, "scenario reports: %s", line + 5);
    } else {
        job_fail(j, "unexpected checkpoint line `%.100s`", line);
    }
    return CP_DECIDED;
}

/* Wait for the checkpoint line: CP_LIVE, CP_OFFLINE, CP_TIMEOUT, or
 * CP_DECIDED when the verdict is already set. */
static int await_checkpoint(hjob *j)
{
    char line[512];
    size_t len = 0;
    double end = h_now() + j->cfg->timeout;
    for (;;) {
        double left = end - h_now();
        if (left <= 0)
            return CP_TIMEOUT;
        struct pollfd pfd = {.fd = j->rfd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r <= 0)
            continue; /* EINTR or not yet */
        ssize_t n = read(j->rfd, line + len, sizeof line - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return checkpoint_eof(j);
        len += (size_t)n;
        line[len] = 0;
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = 0;
            return checkpoint_line(j, line);
        }
        if (len == sizeof line - 1) {
            job_fail(j, "checkpoint line too long");
            return CP_DECIDED;
        }
    }
}

static int start_scenario(hjob *j)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC)) {
        job_fail(j, "pipe: %s", strerror(errno));
        return -1;
    }
    char *env[4] = {h_asprintf("ASYNCTRACE_HARNESS_FD=%d", pfd[1]),
                    h_asprintf("ASYNCTRACE_HARNESS_DUMP=%s", j->dump),
                    j->seeded ? h_asprintf("ASYNCTRACE_SCHED_SEED=%llu", j->seed) : NULL, NULL};
    char *argv[] = {j->bin, NULL};
    char *so = job_path(j, "scenario.stdout"), *se = job_path(j, "scenario.stderr");
    int rc = proc_start(&j->scenario, argv, env, so, se, pfd[1]);
    free(so);
    free(se);
    for (int i = 0; env[i]; i++)
        free(env[i]);
    close(pfd[1]);
    j->rfd = pfd[0];
    if (rc)
        job_fail(j, "cannot start %s: %s", j->bin, strerror(-rc));
    return rc ? -1 : 0;
}

/* ---- The live dump ------------------------------------------------------------ */

/* Parse the documents of text into doc (runtimes of later ones merged into
 * the first).  0 or -1 with the verdict set. */
static int parse_live(hjob *j, const char *text, size_t len, json_t **doc)
{
    size_t off = 0;
    for (;;) {
        while (off < len && strchr(" \t\r\n", text[off]))
            off++;
        if (off >= len)
            return 0;
        json_error_t je;
        json_t *d = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK, &je);
        if (!d || !json_is_object(d)) {
            job_fail(j, "live dump is not valid JSON (line %d, column %d: %s)",
                     d ? 1 : je.line, d ? 1 : je.column, d ? "not an object" : je.text);
            json_decref(d);
            return -1;
        }
        if (!*doc) {
            *doc = d;
        } else {
            json_t *rts = j_arr(*doc, "runtimes"), *more = j_arr(d, "runtimes");
            if (rts && more)
                json_array_extend(rts, more);
            json_decref(d);
        }
        if (!je.position)
            return 0;
        off += (size_t)je.position;
    }
}

/* The live dump file: one document, or several (one per runtime). */
static json_t *load_live(hjob *j)
{
    size_t len;
    char *text = h_read_file(j->dump, &len);
    if (!text) {
        job_fail(j, "checkpoint said `ready live` but there is no live dump (%s)", strerror(errno));
        return NULL;
    }
    json_t *doc = NULL;
    int rc = parse_live(j, text, len, &doc);
    free(text);
    if (!rc && !doc)
        job_fail(j, "live dump is empty");
    else if (!rc && (!j_str(doc, "format") || strcmp(j_str(doc, "format"), "asynctrace-trace")))
        job_fail(j, "live dump is not an asynctrace-trace document");
    if (j->res->verdict == H_FAIL) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* ---- Expectations ----------------------------------------------------------- */

static int read_expect(hjob *j, const char *path, hexpect *e)
{
    char *text = h_read_file(path, NULL);
    if (!text) {
        job_fail(j, "cannot read %s: %s", h_rel(path), strerror(errno));
        return -1;
    }
    char err[600];
    int rc = expect_parse(h_rel(path), text, e, err, sizeof err);
    free(text);
    if (rc)
        job_fail(j, "%s", err);
    return rc;
}

/* Load the expectations (following same-as once).  A missing file is
 * decided after the checkpoint: a skip needs none. */
static int load_expect(hjob *j)
{
    if (!h_file_exists(j->expect_path))
        return 0;
    if (read_expect(j, j->expect_path, &j->ex))
        return -1;
    hexpect *src = &j->ex, other;
    if (j->ex.same_as) {
        char *p = h_asprintf("%s/%s.expect", j->cfg->expect_dir, j->ex.same_as);
        int rc = read_expect(j, p, &other);
        free(p);
        if (rc)
            return -1;
        src = &other;
    }
    for (size_t i = 0; i < src->lines.n; i++)
        hlist_add(&j->expected, src->lines.v[i]);
    if (src != &j->ex)
        expect_free(&other);
    j->have_expect = 1;
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

/* ---- The CLI as two more observers ---------------------------------------------- */

/* The CLI on `tag` ("pid": the stopped scenario; "core": GDB's core): its
 * dump, then its deadlock report of that dump.  0 or -1 (verdict set). */
static int cli_observers(hjob *j, const char *tag)
{
    if (!j->cfg->cli_path)
        return 0;
    int core = !strcmp(tag, "core");
    char pid[32], why[512] = "";
    snprintf(pid, sizeof pid, "%d", (int)j->scenario.pid);
    char *pid_target[] = {pid}, *core_target[] = {j->core, j->bin};
    char *d = h_asprintf("%s/cli-%s-dump.json", j->work, tag);
    char *dump_target[] = {d};
    json_t **slot = &j->cli[core ? 2 : 0];
    slot[0] = cli_observe(j->cfg, j->work, tag, "dump", core ? core_target : pid_target,
                          core ? 2 : 1, why, sizeof why);
    if (slot[0])
        slot[1] = cli_observe(j->cfg, j->work, tag, "deadlocks", dump_target, 1, why, sizeof why);
    free(d);
    if (!slot[1]) {
        job_fail(j, "%s", why);
        return -1;
    }
    job_phase(j, core ? "cli-core" : "cli-pid");
    return 0;
}

/* GDB's documents and the CLI's, of the same moments, are equal. */
static size_t compare_cli(hjob *j, hlist *diffs)
{
    if (!j->cli[0])
        return 0;
    cli_align_clocks(j->at[DOC_TASKS], j->cli[0]);
    size_t n = compare_offline(j->at[DOC_TASKS], j->cli[0], "GDB attached vs the CLI on the PID",
                               diffs);
    n += compare_offline(j->at[DOC_DEADLOCKS], j->cli[1],
                         "deadlocks GDB attached vs the CLI on the PID", diffs);
    n += compare_offline(j->co[DOC_TASKS], j->cli[2], "GDB on the core vs the CLI on the core",
                         diffs);
    n += compare_offline(j->co[DOC_DEADLOCKS], j->cli[3],
                         "deadlocks GDB on the core vs the CLI on the core", diffs);
    return n;
}

/* ---- Checks ------------------------------------------------------------------ */

/* Offline documents agree, live agrees with offline. */
static int check_traces(hjob *j)
{
    hlist *diffs = &j->res->diffs;
    for (size_t i = 0; i < j->observed.n; i++) {
        char why[256];
        if (expect_check_line(j->observed.v[i], why, sizeof why)) {
            job_fail(j, "harness bug: observation line does not parse: %s", why);
            hlist_add(diffs, j->observed.v[i]);
            return -1;
        }
    }
    size_t nd = compare_offline(j->at[DOC_TASKS], j->co[DOC_TASKS], "attached vs core", diffs);
    nd += compare_offline(j->at[DOC_DEADLOCKS], j->co[DOC_DEADLOCKS],
                          "deadlocks attached vs core", diffs);
    nd += compare_offline(j->at[DOC_FRAMES], j->co[DOC_FRAMES],
                          "native frames attached vs core", diffs);
    size_t nl = j->live ? compare_live(j->live, j->co[DOC_TASKS], diffs) : 0;
    size_t nc = compare_cli(j, diffs);
    job_phase(j, "compare");
    if (nd || nl || nc)
        job_fail(j, "%s%s%s%s%s", nd ? "attached and core dumps differ" : "",
                 nd && nl ? "; " : "", nl ? "live and offline dumps differ" : "",
                 (nd || nl) && nc ? "; " : "", nc ? "GDB's and the CLI's readings differ" : "");
    return nd || nl || nc ? -1 : 0;
}

static void update_expect(hjob *j)
{
    const char *rel = h_rel(j->expect_path);
    int wrc = expect_write(j->expect_path, j->have_expect ? &j->ex : NULL, &j->observed);
    if (wrc) {
        job_fail(j, "cannot write %s: %s", j->expect_path, strerror(-wrc));
        return;
    }
    hlist scratch = {0};
    size_t d = j->have_expect ? expect_compare(&j->expected, &j->observed, 0, &scratch) : 0;
    hlist_free(&scratch);
    snprintf(j->res->reason, sizeof j->res->reason, "%s %s",
             j->have_expect ? (d ? "updated" : "unchanged") : "created", rel);
}

static void check_expect(hjob *j)
{
    const hconfig *cfg = j->cfg;
    if (!j->have_expect && !cfg->update) {
        job_fail(j, "no expect file %s (run with --update to create it)", h_rel(j->expect_path));
        return;
    }
    if (cfg->update && !j->ex.same_as && !j->ex.subset) {
        update_expect(j);
        return;
    }
    if (j->ex.same_as) {
        /* Another build of the same program: the same tasks, whatever the
         * mode (a stripped build takes no live dump). */
        drop_mode_line(&j->expected);
        drop_mode_line(&j->observed);
    }
    hdocs docs = {j->co[DOC_TASKS], j->co[DOC_DEADLOCKS], j->co[DOC_FRAMES], j->co[DOC_DIAGNOSE],
                  j->diag_err};
    /* A file of directives alone asserts facts, not the picture. */
    int subset = j->ex.subset || (!j->expected.n && j->ex.ndirs);
    size_t nl = expect_compare(&j->expected, &j->observed, subset, &j->res->diffs);
    size_t nd = directives_check(&j->ex, &docs, &j->res->diffs);
    char dirs[64] = "";
    if (nd)
        snprintf(dirs, sizeof dirs, "%zu directive%s failed", nd, nd == 1 ? "" : "s");
    if (nl && j->ex.same_as)
        job_fail(j, "does not match %s/%s.expect (same-as)", h_rel(cfg->expect_dir), j->ex.same_as);
    else if (nl)
        job_fail(j, "does not match %s%s%s", h_rel(j->expect_path), nd ? "; " : "", dirs);
    else if (nd)
        job_fail(j, "%s: %s", h_rel(j->expect_path), dirs);
}

/* ---- One run ------------------------------------------------------------------ */

/* Start, checkpoint, offline traces, checks: stops at the first step that
 * decides the verdict. */
static void run_checked(hjob *j)
{
    if (access(j->bin, X_OK)) {
        job_fail(j, "no scenario binary %s", h_rel(j->bin));
        return;
    }
    if (load_expect(j) || start_scenario(j))
        return;
    int mode = await_checkpoint(j);
    job_phase(j, "checkpoint");
    if (mode == CP_TIMEOUT) {
        char what[200];
        snprintf(what, sizeof what, "did not reach its checkpoint within %gs", j->cfg->timeout);
        offline_diagnose(j, what);
        return;
    }
    if (mode == CP_DECIDED || (mode == CP_LIVE && !(j->live = load_live(j))))
        return;
    if (cli_observers(j, "pid") || offline_take(j) || cli_observers(j, "core"))
        return;
    observe(j->co[DOC_TASKS], j->co[DOC_DEADLOCKS], j->co[DOC_FRAMES], mode == CP_LIVE,
            &j->observed);
    if (check_traces(j))
        return;
    check_expect(j);
    job_phase(j, "expect");
}

/* Pretty-printed copies of the documents, for a person reading a failure. */
static void save_docs(hjob *j)
{
    static const char *const names[DOC_N] = {"tasks", "deadlocks", "frames", "diagnose"};
    for (int i = 0; i < DOC_N; i++)
        for (int side = 0; side < 2; side++) {
            json_t *d = side ? j->co[i] : j->at[i];
            if (!d)
                continue;
            char *p = h_asprintf("%s/%s-%s.json", j->work, side ? "core" : "attached", names[i]);
            json_dump_file(d, p, JSON_INDENT(1));
            free(p);
        }
    if (j->observed.n) {
        hstr b = {0};
        for (size_t i = 0; i < j->observed.n; i++)
            hstr_printf(&b, "%s\n", j->observed.v[i]);
        char *p = job_path(j, "observed.expect");
        h_write_file(p, b.s, b.len);
        free(p);
        hstr_free(&b);
    }
}

static void save_diffs(hjob *j)
{
    hstr b = {0};
    hstr_printf(&b, "%s: %s\n", j->name, j->res->reason);
    for (size_t i = 0; i < j->res->diffs.n; i++)
        hstr_printf(&b, "  %s\n", j->res->diffs.v[i]);
    char *p = job_path(j, "diff.txt");
    h_write_file(p, b.s, b.len);
    free(p);
    hstr_free(&b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files kept for a failure, for the reports. */
static void list_artefacts(hjob *j)
{
    DIR *d = opendir(j->work);
    struct dirent *e;
    hlist *a = &j->res->artefacts;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp"))
            continue;
        hlist_printf(a, "%s/%s", h_rel(j->work), e->d_name);
    }
    if (d)
        closedir(d);
    qsort(a->v, a->n, sizeof *a->v, cmp_str);
}

static void job_free(hjob *j)
{
    if (j->scenario.pid > 0)
        proc_kill(&j->scenario);
    if (j->rfd >= 0)
        close(j->rfd);
    json_decref(j->live);
    for (int i = 0; i < DOC_N; i++) {
        json_decref(j->at[i]);
        json_decref(j->co[i]);
    }
    for (int i = 0; i < 4; i++)
        json_decref(j->cli[i]);
    expect_free(&j->ex);
    hlist_free(&j->expected);
    hlist_free(&j->observed);
    free(j->bin);
    free(j->expect_path);
    free(j->dump);
    free(j->core);
    hstr_free(&j->phases);
    free(j->work);
}

void run_scenario(const hconfig *cfg, const char *name, int seeded, unsigned long long seed,
                  hresult *res)
{
    hjob j = {.cfg = cfg, .name = name, .res = res, .seeded = seeded, .seed = seed, .rfd = -1};
    memset(res, 0, sizeof *res);
    res->verdict = H_OK;
    double t0 = h_now();
    j.mark = t0;
    j.work = h_asprintf("%s/%s", cfg->out_dir, name);
    j.bin = h_asprintf("%s/%s", cfg->bin_dir, name);
    j.expect_path = h_asprintf("%s/%s.expect", cfg->expect_dir, name);
    j.dump = job_path(&j, "live.json");
    j.core = job_path(&j, "core");
    h_rm_rf(j.work);
    int rc = h_mkdir_p(j.work);
    if (rc)
        job_fail(&j, "cannot create %s: %s", j.work, strerror(-rc));
    else
        run_checked(&j);
    if (j.scenario.pid > 0)
        proc_kill(&j.scenario);
    if (res->verdict == H_FAIL || cfg->keep)
        save_docs(&j);
    res->seconds = h_now() - t0;
    if (cfg->verbose)
        hlist_printf(&res->diffs, "time: %s", j.phases.s);
    if (res->verdict == H_FAIL) {
        save_diffs(&j);
        list_artefacts(&j);
    } else if (!cfg->keep) {
        h_rm_rf(j.work);
    }
    job_free(&j);
}

void result_free(hresult *res)
{
    hlist_free(&res->diffs);
    hlist_free(&res->diagnosis);
    hlist_free(&res->artefacts);
    free(res->replay);
    res->replay = NULL;
}

/* The command that runs this scenario again under `seed`. */
static char *replay_command(const hconfig *cfg, const char *name, unsigned long long seed)
{
    char timeout[64] = "";
    if (cfg->timeout != 20)
        snprintf(timeout, sizeof timeout, " --timeout %g", cfg->timeout);
    return h_asprintf("%s --seed %llu%s --bin-dir %s --expect-dir %s %s", h_rel(cfg->self), seed,
                      timeout, h_rel(cfg->bin_dir), h_rel(cfg->expect_dir), name);
}

void run_seeds(const hconfig *cfg, const char *name, hresult *res)
{
    if (!cfg->nseeds) {
        run_scenario(cfg, name, 0, 0, res);
        return;
    }
    double t0 = h_now();
    unsigned long i;
    for (i = 0; i < cfg->nseeds; i++) {
        if (i)
            result_free(res);
        run_scenario(cfg, name, 1, cfg->seed + i, res);
        if (res->verdict != H_OK)
            break;
    }
    res->seeded = 1;
    res->seeds_run = i < cfg->nseeds ? i + 1 : i;
    res->seconds = h_now() - t0;
    if (res->verdict == H_FAIL) {
        res->seed = cfg->seed + i;
        char *reason = h_asprintf("seed %llu: %s", res->seed, res->reason);
        snprintf(res->reason, sizeof res->reason, "%s", reason);
        free(reason);
        res->replay = replay_command(cfg, name, res->seed);
    } else if (res->verdict == H_OK) {
        snprintf(res->reason, sizeof res->reason, "%lu seed%s (%llu..%llu)", res->seeds_run,
                 res->seeds_run == 1 ? "" : "s", cfg->seed, cfg->seed + res->seeds_run - 1);
    }
}
