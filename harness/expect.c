/* expect.c - expect files: reading one (observation lines, directives,
 * header), comparing its lines with a run's observation (differences name
 * the task and the frame), and rewriting it (--update).  The grammar of an
 * observation line is in expect_line.c, directives in directive.c. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static int parse_lines(const hlist *lines, hentries *out, char *err, size_t errlen)
{
    int nthread = 0;
    for (size_t i = 0; i < lines->n; i++) {
        char e[256];
        if (expect_parse_line(lines->v[i], out, nthread, e, sizeof e)) {
            snprintf(err, errlen, "`%.60s%s`: %s", lines->v[i],
                     strlen(lines->v[i]) > 60 ? "..." : "", e);
            return -1;
        }
        if (!strncmp(lines->v[i], "thread ", 7))
            nthread++;
    }
    return 0;
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

/* Directive lines (same-as, match, expect): 1 handled, 0 not a directive,
 * -1 bad (why set, "column N: ..."). */
static int parse_directive(hexpect *e, const char *line, int lineno, char *why, size_t len)
{
    if (!strncmp(line, "same-as ", 8)) {
        free(e->same_as);
        e->same_as = h_strdup(line + 8);
    } else if (!strncmp(line, "match ", 6)) {
        if (!strcmp(line + 6, "subset") || !strcmp(line + 6, "exact")) {
            e->subset = !strcmp(line + 6, "subset");
        } else {
            snprintf(why, len, "column 7: `match` takes `exact` or `subset`");
            return -1;
        }
    } else if (!strncmp(line, "expect ", 7) || !strcmp(line, "expect")) {
        hdirective d;
        if (directive_parse(line, lineno, &d, why, len))
            return -1;
        e->dirs = realloc(e->dirs, (e->ndirs + 1) * sizeof *e->dirs);
        if (!e->dirs)
            abort();
        e->dirs[e->ndirs++] = d;
    } else {
        return 0;
    }
    hlist_add(&e->header, line);
    return 1;
}

int expect_parse(const char *path, const char *text, hexpect *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->path = h_strdup(path ? path : "(expect)");
    char *copy = h_strdup(text);
    int lineno = 0, rc = 0;
    /* Line by line by hand: strtok_r would skip the empty ones. */
    for (char *p = copy; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        lineno++;
        int indent = (int)strspn(p, " \t");
        char *line = trim(p), why[300];
        p = nl ? nl + 1 : NULL;
        if (!*line || line[0] == '#') {
            if (!e->lines.n)
                hlist_add(&e->header, line);
            continue;
        }
        int d = parse_directive(e, line, lineno, why, sizeof why);
        if (!d && !expect_check_line(line, why, sizeof why)) {
            hlist_add(&e->lines, line);
            continue;
        }
        if (d > 0)
            continue;
        /* why is "column N: reason": make it PATH:LINE:COLUMN: reason. */
        int col = 0, used = 0;
        if (sscanf(why, "column %d: %n", &col, &used) == 1 && used)
            snprintf(err, errlen, "%s:%d:%d: %s", e->path, lineno, col + indent, why + used);
        else
            snprintf(err, errlen, "%s:%d: %s", e->path, lineno, why);
        rc = -1;
        break;
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
    for (size_t i = 0; i < e->ndirs; i++)
        free(e->dirs[i].text);
    free(e->dirs);
    e->dirs = NULL;
    e->ndirs = 0;
    free(e->path);
    e->path = NULL;
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

size_t expect_compare(const hlist *expected, const hlist *observed, int subset, hlist *diffs)
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
    for (size_t i = 0; i < ob.n && !subset; i++) {
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
