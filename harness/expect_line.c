/* expect_line.c - the grammar of one observation line of an expect file
 * (docs/harness.md, "Observation lines"): a small scanner, await trees,
 * and one parser per kind of line. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- The scanner (shared with directive.c) ------------------------------- */

int sc_lit(hscan *s, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(s->p, lit, n))
        return 0;
    s->p += n;
    return 1;
}

int sc_need(hscan *s, const char *lit, const char *what)
{
    if (sc_lit(s, lit))
        return 1;
    if (!s->err)
        s->err = what;
    return 0;
}

int sc_int(hscan *s, long long *v)
{
    const char *q = s->p;
    int neg = 0;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    if (!isdigit((unsigned char)*q)) {
        if (!s->err)
            s->err = "expected a number";
        return 0;
    }
    long long x = 0;
    while (isdigit((unsigned char)*q))
        x = x * 10 + (*q++ - '0');
    *v = neg ? -x : x;
    s->p = q;
    return 1;
}

static int is_name_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '$' || c == '?' || c == '-';
}

int sc_word(hscan *s, char *buf, size_t len, const char *what)
{
    size_t n = 0;
    while (is_name_char((unsigned char)s->p[n]))
        n++;
    if (!n || n >= len) {
        if (!s->err)
            s->err = what;
        return 0;
    }
    memcpy(buf, s->p, n);
    buf[n] = 0;
    s->p += n;
    return 1;
}

static int sc_quoted(hscan *s)
{
    if (!sc_need(s, "\"", "expected a quoted name"))
        return 0;
    while (*s->p && *s->p != '"') {
        if (*s->p == '\\' && s->p[1])
            s->p++;
        s->p++;
    }
    return sc_need(s, "\"", "unterminated quoted name");
}

/* ---- Await trees ------------------------------------------------------------ */

void frame_free(hframe *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nkids; i++)
        frame_free(f->kids[i]);
    free(f->kids);
    free(f);
}

static void frame_add_kid(hframe *f, hframe *k)
{
    f->kids = realloc(f->kids, (f->nkids + 1) * sizeof *f->kids);
    if (!f->kids)
        abort();
    f->kids[f->nkids++] = k;
}

static hframe *parse_chain(hscan *s, int depth);

/* ` kind` or ` kind(args)` after a frame name. */
static int parse_resource(hscan *s, hframe *f)
{
    s->p++;
    size_t n = 0;
    while (islower((unsigned char)s->p[n]) || s->p[n] == '-')
        n++;
    if (s->p[n] == '(') {
        const char *close = strchr(s->p + n, ')');
        if (!close) {
            s->err = "unterminated resource arguments";
            return 0;
        }
        n = (size_t)(close - s->p) + 1;
    }
    if (n >= sizeof f->res) {
        s->err = "resource too long";
        return 0;
    }
    memcpy(f->res, s->p, n);
    f->res[n] = 0;
    s->p += n;
    return 1;
}

/* `{chain | chain ...}` of a combinator. */
static int parse_kids(hscan *s, hframe *f, int depth)
{
    s->p++;
    for (;;) {
        hframe *k = parse_chain(s, depth + 1);
        if (!k)
            return 0;
        frame_add_kid(f, k);
        if (sc_lit(s, " | "))
            continue;
        return sc_need(s, "}", "expected ` | ` or `}` in a combinator");
    }
}

static hframe *parse_frame(hscan *s, int depth)
{
    if (depth > 200) {
        s->err = "await tree nested too deeply";
        return NULL;
    }
    hframe *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->line = -1;
    int ok = sc_word(s, f->name, sizeof f->name, "expected a frame name");
    if (ok && *s->p == ':' && isdigit((unsigned char)s->p[1])) {
        s->p++;
        sc_int(s, &f->line);
    }
    if (ok && s->p[0] == ' ' && islower((unsigned char)s->p[1]))
        ok = parse_resource(s, f);
    if (ok && *s->p == '{')
        ok = parse_kids(s, f, depth);
    if (!ok) {
        frame_free(f);
        return NULL;
    }
    return f;
}

/* chain := frame (" <- " frame)*, innermost first; returns the outermost
 * frame with the rest hanging below it. */
static hframe *parse_chain(hscan *s, int depth)
{
    hframe *inner = parse_frame(s, depth);
    if (!inner)
        return NULL;
    while (sc_lit(s, " <- ")) {
        hframe *outer = parse_frame(s, depth);
        if (!outer) {
            frame_free(inner);
            return NULL;
        }
        if (outer->nkids) {
            s->err = "a combinator cannot await a single chain";
            frame_free(outer);
            frame_free(inner);
            return NULL;
        }
        frame_add_kid(outer, inner);
        inner = outer;
    }
    return inner;
}

/* ---- Entries ---------------------------------------------------------------- */

static void entries_add(hentries *es, hentry e)
{
    if (es->n == es->cap) {
        es->cap = es->cap ? es->cap * 2 : 64;
        es->v = realloc(es->v, es->cap * sizeof *es->v);
        if (!es->v)
            abort();
    }
    es->v[es->n++] = e;
}

void entries_free(hentries *es)
{
    for (size_t i = 0; i < es->n; i++) {
        free(es->v[i].key);
        free(es->v[i].text);
        free(es->v[i].head);
        frame_free(es->v[i].await);
    }
    free(es->v);
    es->v = NULL;
    es->n = es->cap = 0;
}

/* ---- One parser per kind of line -------------------------------------------
 * Each parses what follows its keyword, sets e->key (and for task lines
 * e->head and e->await) and returns 1, or 0 with s->err set. */

/* The part of a task line after the id: NAME STATE parent N KIND FN:LINE
 * [error]: AWAIT.  Sets *head_end to the ": " before the tree. */
static hframe *parse_task_rest(hscan *s, const char **head_end)
{
    char word[128];
    long long v;
    if (!sc_quoted(s) || !sc_need(s, " ", "expected a space after the name") ||
        !sc_word(s, word, sizeof word, "expected a task state"))
        return NULL;
    static const char *states[] = {"idle", "scheduled", "running", "complete", "cancelled", "?"};
    int ok = 0;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        ok |= !strcmp(word, states[i]);
    if (!ok) {
        s->err = "unknown task state";
        return NULL;
    }
    if (!sc_need(s, " parent ", "expected ` parent N`") || !sc_int(s, &v))
        return NULL;
    if (!sc_lit(s, " spawn ") && !sc_need(s, " block-on ", "expected ` spawn FN:LINE`"))
        return NULL;
    if (!sc_word(s, word, sizeof word, "expected the spawning function") ||
        !sc_need(s, ":", "expected `:LINE` after the spawning function") || !sc_int(s, &v))
        return NULL;
    sc_lit(s, " error");
    *head_end = s->p;
    if (!sc_need(s, ": ", "expected `: ` before the await tree"))
        return NULL;
    if (sc_lit(s, "none"))
        return calloc(1, sizeof(hframe)); /* an empty marker frame */
    return parse_chain(s, 0);
}

static int line_mode(hscan *s, hentry *e)
{
    if (!sc_lit(s, "live") && !sc_need(s, "offline", "mode is `live` or `offline`"))
        return 0;
    e->key = h_strdup("mode");
    return 1;
}

static int line_runtime(hscan *s, hentry *e)
{
    long long a, b;
    char word[128];
    if (!sc_int(s, &a) || !sc_need(s, " ", "expected a flavor") ||
        !sc_word(s, word, sizeof word, "expected a flavor") ||
        !sc_need(s, " workers ", "expected ` workers N`") || !sc_int(s, &b))
        return 0;
    e->key = h_asprintf("runtime %lld", a);
    return 1;
}

static int line_task(hscan *s, hentry *e)
{
    long long a;
    if (!sc_int(s, &a) || !sc_need(s, " ", "expected a space after the id"))
        return 0;
    const char *rest = s->p, *head_end = NULL;
    e->await = parse_task_rest(s, &head_end);
    if (!e->await)
        return 0;
    e->key = h_asprintf("task %lld", a);
    e->head = h_asprintf("%.*s", (int)(head_end - rest), rest);
    return 1;
}

static int line_thread(hscan *s, hentry *e, int nthread)
{
    long long a, b;
    char word[128];
    if (!sc_word(s, word, sizeof word, "expected a thread role") ||
        !sc_need(s, " task ", "expected ` task N`") || !sc_int(s, &a) ||
        !sc_need(s, " roots ", "expected ` roots A <- B`") || !sc_int(s, &b))
        return 0;
    while (sc_lit(s, " <- "))
        if (!sc_int(s, &b))
            return 0;
    e->key = h_asprintf("thread #%d", nthread);
    return 1;
}

static int line_culprit(hscan *s, hentry *e)
{
    long long a;
    char word[128];
    if (!sc_int(s, &a) || !sc_need(s, " ", "expected a space after the id") ||
        !sc_quoted(s) || !sc_need(s, ":", "expected `:` after the name"))
        return 0;
    if (!sc_lit(s, " (no frames)")) {
        do {
            if (!sc_need(s, " ", "expected a frame") ||
                !sc_word(s, word, sizeof word, "expected a symbol"))
                return 0;
        } while (sc_lit(s, " <-"));
    }
    e->key = h_asprintf("culprit: task %lld", a);
    return 1;
}

static int line_cycle(hscan *s, hentry *e)
{
    hstr k = {0};
    long long a = 0;
    char word[128];
    int n = 0, ok = sc_int(s, &a);
    hstr_printf(&k, "cycle: %lld", a);
    while (ok && sc_lit(s, " -> ")) {
        ok = sc_int(s, &a);
        hstr_printf(&k, " %lld", a);
        n++;
    }
    if (ok && !n) {
        s->err = "a cycle needs `A -> B`";
        ok = 0;
    }
    if (ok && sc_lit(s, " via ")) {
        do
            ok = sc_word(s, word, sizeof word, "expected a resource kind");
        while (ok && sc_lit(s, ", "));
    }
    if (!ok) {
        hstr_free(&k);
        return 0;
    }
    e->key = k.s;
    return 1;
}

static int line_stuck(hscan *s, hentry *e)
{
    long long a;
    if (!sc_int(s, &a) || !sc_need(s, " ", "expected a space after the id") ||
        !sc_quoted(s) || !sc_need(s, ": ", "expected `: reason`"))
        return 0;
    s->p += strlen(s->p);
    e->key = h_asprintf("stuck: task %lld", a);
    return 1;
}

/* `tasks A..B REST`: one entry per task of the range. */
static int line_tasks(hscan *s, hentries *out)
{
    long long a, b;
    if (!sc_int(s, &a) || !sc_need(s, "..", "expected `A..B`") || !sc_int(s, &b) ||
        !sc_need(s, " ", "expected a space after the range"))
        return 0;
    if (b < a || b - a > 10000000) {
        s->err = "bad task range";
        return 0;
    }
    const char *rest = s->p, *head_end = NULL;
    hframe *tree = parse_task_rest(s, &head_end);
    if (!tree)
        return 0;
    frame_free(tree);
    if (*s->p) {
        s->err = "unexpected text at the end of the line";
        return 0;
    }
    for (long long id = a; id <= b; id++) {
        hentry t = {0};
        hscan s2 = {.p = rest};
        t.await = parse_task_rest(&s2, &head_end);
        t.key = h_asprintf("task %lld", id);
        t.text = h_asprintf("task %lld %s", id, rest);
        t.head = h_asprintf("%.*s", (int)(head_end - rest), rest);
        entries_add(out, t);
    }
    return 1;
}

/* Dispatch on the keyword; 1 parsed, 0 error. */
static int line_any(hscan *s, hentry *e, hentries *out, int nthread, int *ranged)
{
    if (sc_lit(s, "mode "))
        return line_mode(s, e);
    if (sc_lit(s, "runtime "))
        return line_runtime(s, e);
    if (sc_lit(s, "tasks ")) {
        *ranged = 1;
        return line_tasks(s, out);
    }
    if (sc_lit(s, "task "))
        return line_task(s, e);
    if (sc_lit(s, "thread "))
        return line_thread(s, e, nthread);
    if (sc_lit(s, "culprit: task "))
        return line_culprit(s, e);
    if (sc_lit(s, "cycle: "))
        return line_cycle(s, e);
    if (sc_lit(s, "stuck: task "))
        return line_stuck(s, e);
    s->err = "unknown line (expected mode, runtime, task, tasks, thread, culprit:, "
             "cycle:, stuck:, or a directive: expect, match, same-as)";
    return 0;
}

int expect_parse_line(const char *line, hentries *out, int nthread, char *err, size_t errlen)
{
    hscan s = {.p = line};
    hentry e = {0};
    int ranged = 0;
    int ok = line_any(&s, &e, out, nthread, &ranged);
    if (ok && ranged)
        return 0;
    if (ok && *s.p) {
        s.err = "unexpected text at the end of the line";
        ok = 0;
    }
    if (!ok) {
        snprintf(err, errlen, "column %d: %s", (int)(s.p - line) + 1,
                 s.err ? s.err : "syntax error");
        free(e.key);
        free(e.head);
        frame_free(e.await);
        return -1;
    }
    e.text = h_strdup(line);
    entries_add(out, e);
    return 0;
}

int expect_check_line(const char *line, char *err, size_t errlen)
{
    hentries es = {0};
    int rc = expect_parse_line(line, &es, 0, err, errlen);
    entries_free(&es);
    return rc;
}
