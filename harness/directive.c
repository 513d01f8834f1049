/* directive.c - the `expect ...` assertions of an expect file: facts about
 * a run that hold without listing every task (docs/harness.md,
 * "Directives").  Each is checked against the offline documents of the run
 * (the core's): the task document, `info async-deadlocks`, the native
 * frames of every thread (with the system call each is in), and
 * `info async-diagnose` where the GDB extension has it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

enum {
    D_NO_STUCK,    /* expect no-stuck */
    D_NO_CYCLE,    /* expect no-cycle */
    D_CYCLE,       /* expect cycle [task N] */
    D_STUCK,       /* expect stuck task N */
    D_TASKS,       /* expect tasks N (the count is kept in task) */
    D_STATE,       /* expect task N STATE */
    D_IN_SYSCALL,  /* expect in-syscall task N [CALL] */
    D_FINDING,     /* expect finding KIND [task N] */
    D_NO_FINDING,  /* expect no-finding [KIND] */
};

/* ---- Parsing ------------------------------------------------------------ */

/* ` task N` (required or optional). */
static int opt_task(hscan *s, hdirective *d, int required)
{
    if (!required && !*s->p)
        return 1;
    return sc_need(s, " task ", "expected ` task N`") && sc_int(s, &d->task);
}

static int opt_word(hscan *s, hdirective *d, const char *what)
{
    if (!*s->p)
        return 1;
    return sc_need(s, " ", what) && sc_word(s, d->arg, sizeof d->arg, what);
}

static int parse_body(hscan *s, hdirective *d)
{
    if (sc_lit(s, "no-stuck")) {
        d->kind = D_NO_STUCK;
    } else if (sc_lit(s, "no-cycle")) {
        d->kind = D_NO_CYCLE;
    } else if (sc_lit(s, "cycle")) {
        d->kind = D_CYCLE;
        return opt_task(s, d, 0);
    } else if (sc_lit(s, "stuck")) {
        d->kind = D_STUCK;
        return opt_task(s, d, 1);
    } else if (sc_lit(s, "tasks ")) {
        d->kind = D_TASKS;
        return sc_int(s, &d->task);
    } else if (sc_lit(s, "task ")) {
        d->kind = D_STATE;
        return sc_int(s, &d->task) && sc_need(s, " ", "expected ` STATE`") &&
               sc_word(s, d->arg, sizeof d->arg, "expected a task state");
    } else if (sc_lit(s, "in-syscall")) {
        d->kind = D_IN_SYSCALL;
        return opt_task(s, d, 1) && opt_word(s, d, "expected the call's name");
    } else if (sc_lit(s, "no-finding")) {
        d->kind = D_NO_FINDING;
        return opt_word(s, d, "expected a finding kind");
    } else if (sc_lit(s, "finding ")) {
        d->kind = D_FINDING;
        return sc_word(s, d->arg, sizeof d->arg, "expected a finding kind") &&
               opt_task(s, d, 0);
    } else {
        s->err = "unknown directive (expected no-stuck, no-cycle, cycle, stuck, tasks, "
                 "task, in-syscall, finding or no-finding)";
        return 0;
    }
    return 1;
}

int directive_parse(const char *line, int lineno, hdirective *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->task = -1;
    d->line = lineno;
    hscan s = {.p = line};
    int ok = sc_need(&s, "expect ", "expected `expect WHAT`") && parse_body(&s, d);
    if (ok && *s.p) {
        s.err = "unexpected text at the end of the directive";
        ok = 0;
    }
    static const char *states[] = {"idle", "scheduled", "running", "complete", "cancelled"};
    if (ok && d->kind == D_STATE) {
        ok = 0;
        for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
            ok |= !strcmp(d->arg, states[i]);
        if (!ok) {
            s.p -= strlen(d->arg);
            s.err = "unknown task state (idle, scheduled, running, complete, cancelled)";
        }
    }
    if (!ok) {
        snprintf(err, errlen, "column %d: %s", (int)(s.p - line) + 1,
                 s.err ? s.err : "syntax error");
        return -1;
    }
    d->text = h_strdup(line);
    return 0;
}

/* ---- Facts from the documents ------------------------------------------- */

static json_t *find_task(json_t *tasks, long long id)
{
    size_t i, k;
    json_t *rt, *t;
    json_array_foreach(j_arr(tasks, "runtimes"), i, rt)
        json_array_foreach(j_arr(rt, "tasks"), k, t)
            if (j_int(t, "id", -1) == id)
                return t;
    return NULL;
}

static size_t count_tasks(json_t *tasks)
{
    size_t i, n = 0;
    json_t *rt;
    json_array_foreach(j_arr(tasks, "runtimes"), i, rt)
        n += json_array_size(j_arr(rt, "tasks"));
    return n;
}

/* Is task id in a cycle (id < 0: is there any cycle)? */
static int in_cycle(json_t *dl, long long id)
{
    size_t i, k;
    json_t *cyc, *e;
    json_array_foreach(j_arr(dl, "cycles"), i, cyc) {
        if (id < 0)
            return 1;
        json_array_foreach(cyc, k, e)
            if (j_int(e, "task", -2) == id)
                return 1;
    }
    return 0;
}

static int is_stuck(json_t *dl, long long id)
{
    size_t i;
    json_t *e;
    json_array_foreach(j_arr(dl, "stuck"), i, e)
        if (j_int(e, "task", -2) == id)
            return 1;
    return in_cycle(dl, id);
}

/* The frames document's entry for the thread polling task id. */
static json_t *thread_of_task(const hdocs *docs, long long id)
{
    size_t i, k;
    json_t *th, *ft;
    json_array_foreach(j_arr(docs->tasks, "threads"), i, th) {
        if (j_int(th, "task", -2) != id)
            continue;
        json_array_foreach(j_arr(docs->frames, "threads"), k, ft)
            if (j_int(ft, "tid", -2) == j_int(th, "tid", -1))
                return ft;
    }
    return NULL;
}

/* The innermost frame's function without libc's internal prefixes. */
static void innermost_call(json_t *ft, char *buf, size_t len)
{
    const char *s = j_str(json_array_get(j_arr(ft, "frames"), 0), "function");
    if (!s)
        s = "??";
    if (!strncmp(s, "__GI_", 5))
        s += 5;
    while (*s == '_')
        s++;
    if (!strncmp(s, "libc_", 5))
        s += 5;
    snprintf(buf, len, "%s", s);
    char *at = strchr(buf, '@');
    if (at && at != buf)
        *at = 0;
}

/* Does a finding name task id (in its tasks or its roots)? */
static int finding_names(json_t *f, long long id)
{
    static const char *const lists[] = {"tasks", "roots"};
    size_t i;
    json_t *t;
    for (size_t k = 0; k < 2; k++)
        json_array_foreach(j_arr(f, lists[k]), i, t)
            if ((json_is_object(t) ? j_int(t, "task", -2) : json_is_integer(t)
                 ? (long long)json_integer_value(t) : -2) == id)
                return 1;
    return 0;
}

/* `info async-diagnose --json` findings of a kind ("": any) that name
 * task id (id < 0: any task). */
static size_t count_findings(json_t *diag, const char *kind, long long id)
{
    size_t i, n = 0;
    json_t *f;
    json_array_foreach(j_arr(diag, "findings"), i, f) {
        if (*kind && (!j_str(f, "kind") || strcmp(j_str(f, "kind"), kind)))
            continue;
        if (id >= 0 && !finding_names(f, id))
            continue;
        n++;
    }
    return n;
}

/* ---- Checking ------------------------------------------------------------- */

static int check_in_syscall(const hdirective *d, const hdocs *docs, char *why, size_t len)
{
    json_t *ft = thread_of_task(docs, d->task);
    if (!ft) {
        snprintf(why, len, "no thread is polling task %lld", d->task);
        return 0;
    }
    long long nr = j_int(ft, "syscall", -1);
    char call[128];
    innermost_call(ft, call, sizeof call);
    if (nr < 0) {
        snprintf(why, len, "task %lld's thread %lld is not in a system call (innermost "
                 "frame %s)", d->task, j_int(ft, "tid", 0), call);
        return 0;
    }
    if (d->arg[0] && strcmp(call, d->arg)) {
        snprintf(why, len, "task %lld's thread is in system call %lld through %s, not %s",
                 d->task, nr, call, d->arg);
        return 0;
    }
    return 1;
}

static int check_state(const hdirective *d, const hdocs *docs, char *why, size_t len)
{
    json_t *t = find_task(docs->tasks, d->task);
    const char *st = t ? j_str(t, "state") : NULL;
    if (!t)
        snprintf(why, len, "there is no task %lld", d->task);
    else if (!st || strcmp(st, d->arg))
        snprintf(why, len, "task %lld \"%s\" is %s", d->task,
                 j_str(t, "name") ? j_str(t, "name") : "", st ? st : "?");
    else
        return 1;
    return 0;
}

static int check_deadlocks(const hdirective *d, const hdocs *docs, char *why, size_t len)
{
    size_t nc = json_array_size(j_arr(docs->deadlocks, "cycles"));
    size_t ns = json_array_size(j_arr(docs->deadlocks, "stuck"));
    switch (d->kind) {
    case D_NO_STUCK:
        if (!nc && !ns)
            return 1;
        snprintf(why, len, "%zu cycle%s and %zu stuck task%s", nc, nc == 1 ? "" : "s", ns,
                 ns == 1 ? "" : "s");
        return 0;
    case D_NO_CYCLE:
        if (!nc)
            return 1;
        snprintf(why, len, "%zu cycle%s", nc, nc == 1 ? "" : "s");
        return 0;
    case D_CYCLE:
        if (in_cycle(docs->deadlocks, d->task))
            return 1;
        snprintf(why, len, d->task < 0 ? "no cycle" : "task %lld is in no cycle", d->task);
        return 0;
    default: /* D_STUCK */
        if (is_stuck(docs->deadlocks, d->task))
            return 1;
        snprintf(why, len, "task %lld is neither stuck nor in a cycle", d->task);
        return 0;
    }
}

static int check_findings(const hdirective *d, const hdocs *docs, char *why, size_t len)
{
    if (!docs->diagnose) {
        snprintf(why, len, "no `info async-diagnose --json` document (%s)",
                 docs->diagnose_error && *docs->diagnose_error ? docs->diagnose_error
                                                               : "GDB printed none");
        return 0;
    }
    size_t n = count_findings(docs->diagnose, d->arg, d->kind == D_FINDING ? d->task : -1);
    if (d->kind == D_FINDING && !n) {
        snprintf(why, len, "no finding %s%s", d->arg, d->task >= 0 ? " for that task" : "");
        return 0;
    }
    if (d->kind == D_NO_FINDING && n) {
        snprintf(why, len, "%zu finding%s%s%s", n, n == 1 ? "" : "s", *d->arg ? " " : "",
                 d->arg);
        return 0;
    }
    return 1;
}

static int check_one(const hdirective *d, const hdocs *docs, char *why, size_t len)
{
    switch (d->kind) {
    case D_TASKS:
        if ((long long)count_tasks(docs->tasks) == d->task)
            return 1;
        snprintf(why, len, "%zu tasks", count_tasks(docs->tasks));
        return 0;
    case D_STATE:
        return check_state(d, docs, why, len);
    case D_IN_SYSCALL:
        return check_in_syscall(d, docs, why, len);
    case D_FINDING:
    case D_NO_FINDING:
        return check_findings(d, docs, why, len);
    default:
        return check_deadlocks(d, docs, why, len);
    }
}

size_t directives_check(const hexpect *e, const hdocs *docs, hlist *diffs)
{
    size_t failed = 0;
    for (size_t i = 0; i < e->ndirs; i++) {
        char why[400];
        if (check_one(&e->dirs[i], docs, why, sizeof why))
            continue;
        hlist_printf(diffs, "%s:%d: `%s`: %s", h_rel(e->path), e->dirs[i].line,
                     e->dirs[i].text, why);
        failed++;
    }
    return failed;
}
