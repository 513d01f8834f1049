/* expect.c - expect files: parsing (every line checked against the
 * grammar of docs/harness.md), comparison with a run's observation
 * (differences name the task and the frame), and rewriting (--update). */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- A tiny scanner ----------------------------------------------------- */

typedef struct scan {
    const char *p;
    const char *err;  /* first error, static text */
} scan;

static int sc_lit(scan *s, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(s->p, lit, n))
        return 0;
    s->p += n;
    return 1;
}

static int sc_need(scan *s, const char *lit, const char *what)
{
    if (sc_lit(s, lit))
        return 1;
    if (!s->err)
        s->err = what;
    return 0;
}

static int sc_int(scan *s, long long *v)
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

/* A word of name characters, copied into buf. */
static int sc_word(scan *s, char *buf, size_t len, const char *what)
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

static int sc_quoted(scan *s)
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

/* ---- Await trees ---------------------------------------------------------- */

typedef struct hframe hframe;
struct hframe {
    char name[128];
    long long line;  /* -1 when absent */
    char res[256];   /* resource text, "" when none */
    hframe **kids;
    size_t nkids;
};

static void frame_free(hframe *f)
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

static hframe *parse_chain(scan *s, int depth);

static hframe *parse_frame(scan *s, int depth)
{
    if (depth > 200) {
        s->err = "await tree nested too deeply";
        return NULL;
    }
    hframe *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->line = -1;
    if (!sc_word(s, f->name, sizeof f->name, "expected a frame name")) {
        frame_free(f);
        return NULL;
    }
    if (*s->p == ':' && isdigit((unsigned char)s->p[1])) {
        s->p++;
        sc_int(s, &f->line);
    }
    if (s->p[0] == ' ' && islower((unsigned char)s->p[1])) {
        s->p++;
        size_t n = 0;
        while (islower((unsigned char)s->p[n]) || s->p[n] == '-')
            n++;
        if (s->p[n] == '(') {
            const char *close = strchr(s->p + n, ')');
            if (!close) {
                s->err = "unterminated resource arguments";
                frame_free(f);
                return NULL;
            }
            n = (size_t)(close - s->p) + 1;
        }
        if (n >= sizeof f->res) {
            s->err = "resource too long";
            frame_free(f);
            return NULL;
        }
        memcpy(f->res, s->p, n);
        f->res[n] = 0;
        s->p += n;
    }
    if (*s->p == '{') {
        s->p++;
        for (;;) {
            hframe *k = parse_chain(s, depth + 1);
            if (!k) {
                frame_free(f);
                return NULL;
            }
            frame_add_kid(f, k);
            if (sc_lit(s, " | "))
                continue;
            if (!sc_need(s, "}", "expected ` | ` or `}` in a combinator")) {
                frame_free(f);
                return NULL;
            }
            break;
        }
    }
    return f;
}

/* chain := frame (" <- " frame)*, innermost first; returns the outermost
 * frame with the rest hanging below it. */
static hframe *parse_chain(scan *s, int depth)
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

/* ---- Lines ------------------------------------------------------------------ */

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

static void entries_free(hentries *es)
{
    for (size_t i = 0; i < es->n; i++) {
        free(es->v[i].key);
        free(es->v[i].text);
        free(es->v[i].head);
        frame_free(es->v[i].await);
    }
    free(es->v);
}

/* Parse the part of a task line after the id: NAME STATE parent N KIND
 * FN:LINE[ error]: AWAIT.  Sets *head_end to the ": " before the tree. */
static hframe *parse_task_rest(scan *s, const char **head_end)
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

/* Parse one observation line into entries (a range gives several).
 * Returns 0, or -1 with err set. */
static int parse_line(const char *line, hentries *out, int nthread, char *err, size_t errlen)
{
    scan s = {.p = line};
    long long a, b;
    char word[128];
    hentry e = {0};
    if (sc_lit(&s, "mode ")) {
        if (!sc_lit(&s, "live") && !sc_need(&s, "offline", "mode is `live` or `offline`"))
            goto bad;
        e.key = h_strdup("mode");
    } else if (sc_lit(&s, "runtime ")) {
        if (!sc_int(&s, &a) || !sc_need(&s, " ", "expected a flavor") ||
            !sc_word(&s, word, sizeof word, "expected a flavor") ||
            !sc_need(&s, " workers ", "expected ` workers N`") || !sc_int(&s, &b))
            goto bad;
        e.key = h_asprintf("runtime %lld", a);
    } else if (sc_lit(&s, "tasks ")) {
        if (!sc_int(&s, &a) || !sc_need(&s, "..", "expected `A..B`") || !sc_int(&s, &b) ||
            !sc_need(&s, " ", "expected a space after the range"))
            goto bad;
        if (b < a || b - a > 10000000) {
            s.err = "bad task range";
            goto bad;
        }
        const char *rest = s.p, *head_end = NULL;
        hframe *tree = parse_task_rest(&s, &head_end);
        if (!tree)
            goto bad;
        frame_free(tree);
        if (*s.p)
            goto trailing;
        for (long long id = a; id <= b; id++) {
            hentry t = {0};
            scan s2 = {.p = rest};
            t.await = parse_task_rest(&s2, &head_end);
            t.key = h_asprintf("task %lld", id);
            t.text = h_asprintf("task %lld %s", id, rest);
            t.head = h_asprintf("%.*s", (int)(head_end - rest), rest);
            entries_add(out, t);
        }
        return 0;
    } else if (sc_lit(&s, "task ")) {
        if (!sc_int(&s, &a) || !sc_need(&s, " ", "expected a space after the id"))
            goto bad;
        const char *rest = s.p, *head_end = NULL;
        e.await = parse_task_rest(&s, &head_end);
        if (!e.await)
            goto bad;
        e.key = h_asprintf("task %lld", a);
        e.head = h_asprintf("%.*s", (int)(head_end - rest), rest);
    } else if (sc_lit(&s, "thread ")) {
        if (!sc_word(&s, word, sizeof word, "expected a thread role") ||
            !sc_need(&s, " task ", "expected ` task N`") || !sc_int(&s, &a) ||
            !sc_need(&s, " roots ", "expected ` roots A <- B`") || !sc_int(&s, &b))
            goto bad;
        while (sc_lit(&s, " <- "))
            if (!sc_int(&s, &b))
                goto bad;
        e.key = h_asprintf("thread #%d", nthread);
    } else if (sc_lit(&s, "culprit: task ")) {
        if (!sc_int(&s, &a) || !sc_need(&s, " ", "expected a space after the id") ||
            !sc_quoted(&s) || !sc_need(&s, ":", "expected `:` after the name"))
            goto bad;
        if (!sc_lit(&s, " (no frames)")) {
            do {
                if (!sc_need(&s, " ", "expected a frame") ||
                    !sc_word(&s, word, sizeof word, "expected a symbol"))
                    goto bad;
            } while (sc_lit(&s, " <-"));
        }
        e.key = h_asprintf("culprit: task %lld", a);
    } else if (sc_lit(&s, "cycle: ")) {
        hstr k = {0};
        hstr_add(&k, "cycle:");
        if (!sc_int(&s, &a)) {
            hstr_free(&k);
            goto bad;
        }
        hstr_printf(&k, " %lld", a);
        int n = 0;
        while (sc_lit(&s, " -> ")) {
            if (!sc_int(&s, &b)) {
                hstr_free(&k);
                goto bad;
            }
            hstr_printf(&k, " %lld", b);
            n++;
        }
        if (!n) {
            hstr_free(&k);
            s.err = "a cycle needs `A -> B`";
            goto bad;
        }
        if (sc_lit(&s, " via ")) {
            do {
                if (!sc_word(&s, word, sizeof word, "expected a resource kind")) {
                    hstr_free(&k);
                    goto bad;
                }
            } while (sc_lit(&s, ", "));
        }
        e.key = k.s;
    } else if (sc_lit(&s, "stuck: task ")) {
        if (!sc_int(&s, &a) || !sc_need(&s, " ", "expected a space after the id") ||
            !sc_quoted(&s) || !sc_need(&s, ": ", "expected `: reason`"))
            goto bad;
        s.p += strlen(s.p);
        e.key = h_asprintf("stuck: task %lld", a);
    } else {
        s.err = "unknown line (expected mode, runtime, task, tasks, thread, culprit:, cycle: or stuck:)";
        goto bad;
    }
    if (*s.p)
        goto trailing;
    e.text = h_strdup(line);
    entries_add(out, e);
    return 0;
trailing:
    s.err = "unexpected text at the end of the line";
bad:
    snprintf(err, errlen, "column %d: %s", (int)(s.p - line) + 1,
             s.err ? s.err : "syntax error");
    free(e.key);
    free(e.head);
    frame_free(e.await);
    return -1;
}

static int parse_lines(const hlist *lines, hentries *out, char *err, size_t errlen)
{
    int nthread = 0;
    for (size_t i = 0; i < lines->n; i++) {
        char e[256];
        if (parse_line(lines->v[i], out, nthread, e, sizeof e)) {
            snprintf(err, errlen, "`%.60s%s`: %s", lines->v[i],
                     strlen(lines->v[i]) > 60 ? "..." : "", e);
            return -1;
        }
        if (!strncmp(lines->v[i], "thread ", 7))
            nthread++;
    }
    return 0;
}

int expect_check_line(const char *line, char *err, size_t errlen)
{
    hentries es = {0};
    int rc = parse_line(line, &es, 0, err, errlen);
    entries_free(&es);
    return rc;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

int expect_parse(const char *text, hexpect *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    char *copy = h_strdup(text);
    int lineno = 0, rc = 0;
    /* Line by line by hand: strtok_r would skip the empty ones. */
    char *p = copy;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        lineno++;
        char *line = trim(p);
        p = nl ? nl + 1 : NULL;
        if (!*line || line[0] == '#') {
            if (!e->lines.n)
                hlist_add(&e->header, line);
            continue;
        }
        if (!strncmp(line, "same-as ", 8)) {
            free(e->same_as);
            e->same_as = h_strdup(trim(line + 8));
            hlist_add(&e->header, line);
            continue;
        }
        char why[256];
        if (expect_check_line(line, why, sizeof why)) {
            snprintf(err, errlen, "line %d: %s", lineno, why);
            rc = -1;
            break;
        }
        hlist_add(&e->lines, line);
    }
    free(copy);
    if (rc)
        expect_free(e);
    return rc;
}

void expect_free(hexpect *e)
{
    hlist_free(&e->header);
    hlist_free(&e->lines);
    free(e->same_as);
    e->same_as = NULL;
}

/* ---- Comparison --------------------------------------------------------- */

static void frame_label(const hframe *f, hstr *b)
{
    hstr_add(b, f->name);
    if (f->line >= 0)
        hstr_printf(b, ":%lld", f->line);
}

static void cmp_tree(const char *who, const hframe *x, const hframe *y, const char *path,
                     hlist *diffs, size_t *count)
{
    hstr here = {0};
    hstr_printf(&here, "%s%s%s", path, *path ? " > " : "", x->name);
    if (strcmp(x->name, y->name)) {
        hlist_printf(diffs, "%s: frame %s: expected function %s, got %s", who, here.s,
                     x->name, y->name);
        (*count)++;
        hstr_free(&here);
        return;
    }
    if (x->line != y->line) {
        hlist_printf(diffs, "%s: frame %s: expected line %lld, got %lld", who, here.s,
                     x->line, y->line);
        (*count)++;
    }
    if (strcmp(x->res, y->res)) {
        hlist_printf(diffs, "%s: frame %s: expected resource `%s`, got `%s`", who, here.s,
                     *x->res ? x->res : "none", *y->res ? y->res : "none");
        (*count)++;
    }
    if (x->nkids != y->nkids) {
        hstr a = {0}, b = {0};
        for (size_t i = 0; i < x->nkids; i++) {
            hstr_add(&a, i ? ", " : "");
            frame_label(x->kids[i], &a);
        }
        for (size_t i = 0; i < y->nkids; i++) {
            hstr_add(&b, i ? ", " : "");
            frame_label(y->kids[i], &b);
        }
        hlist_printf(diffs, "%s: frame %s: expected it to await [%s], got [%s]", who,
                     here.s, a.s ? a.s : "", b.s ? b.s : "");
        (*count)++;
        hstr_free(&a);
        hstr_free(&b);
    } else {
        for (size_t i = 0; i < x->nkids; i++)
            cmp_tree(who, x->kids[i], y->kids[i], here.s, diffs, count);
    }
    hstr_free(&here);
}

static void cmp_entry(const hentry *x, const hentry *y, hlist *diffs, size_t *count)
{
    if (!strcmp(x->text, y->text))
        return;
    if (x->await && y->await) {
        size_t before = *count;
        if (strcmp(x->head, y->head)) {
            hlist_printf(diffs, "%s: expected %s", x->key, x->head);
            hlist_printf(diffs, "%*s       got %s", (int)strlen(x->key), "", y->head);
            (*count)++;
        }
        if (!x->await->name[0] || !y->await->name[0]) {
            if (x->await->name[0] || y->await->name[0]) {
                hlist_printf(diffs, "%s: expected await %s, got %s", x->key,
                             x->await->name[0] ? x->await->name : "none",
                             y->await->name[0] ? y->await->name : "none");
                (*count)++;
            }
        } else {
            cmp_tree(x->key, x->await, y->await, "", diffs, count);
        }
        if (*count != before)
            return;
    }
    hlist_printf(diffs, "expected: %s", x->text);
    hlist_printf(diffs, "     got: %s", y->text);
    (*count)++;
}

static json_t *index_entries(const hentries *es)
{
    json_t *idx = json_object();
    for (size_t i = 0; i < es->n; i++)
        json_object_set_new(idx, es->v[i].key, json_integer((json_int_t)i));
    return idx;
}

size_t expect_compare(const hlist *expected, const hlist *observed, hlist *diffs)
{
    hentries ex = {0}, ob = {0};
    char err[512];
    size_t count = 0;
    if (parse_lines(expected, &ex, err, sizeof err)) {
        hlist_printf(diffs, "expect file: %s", err);
        entries_free(&ex);
        return 1;
    }
    if (parse_lines(observed, &ob, err, sizeof err)) {
        hlist_printf(diffs, "observation does not parse (harness bug): %s", err);
        entries_free(&ex);
        entries_free(&ob);
        return 1;
    }
    json_t *oidx = index_entries(&ob), *eidx = index_entries(&ex);
    for (size_t i = 0; i < ex.n; i++) {
        json_t *j = json_object_get(oidx, ex.v[i].key);
        if (!j) {
            hlist_printf(diffs, "missing: %s", ex.v[i].text);
            count++;
            continue;
        }
        cmp_entry(&ex.v[i], &ob.v[json_integer_value(j)], diffs, &count);
    }
    for (size_t i = 0; i < ob.n; i++) {
        if (!json_object_get(eidx, ob.v[i].key)) {
            hlist_printf(diffs, "unexpected: %s", ob.v[i].text);
            count++;
        }
    }
    json_decref(oidx);
    json_decref(eidx);
    entries_free(&ex);
    entries_free(&ob);
    return count;
}

int expect_write(const char *path, const hexpect *old, const hlist *observed)
{
    hstr b = {0};
    if (old && old->header.n) {
        for (size_t i = 0; i < old->header.n; i++)
            hstr_printf(&b, "%s\n", old->header.v[i]);
    } else {
        const char *base = strrchr(path, '/');
        hstr_printf(&b, "# %s: what the offline dumps must show (asynctrace-harness --update).\n"
                        "# Review by hand; syntax in docs/harness.md.\n",
                    base ? base + 1 : path);
    }
    for (size_t i = 0; i < observed->n; i++)
        hstr_printf(&b, "%s\n", observed->v[i]);
    int rc = h_write_file(path, b.s, b.len);
    hstr_free(&b);
    return rc;
}
