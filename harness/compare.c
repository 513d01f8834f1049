/* compare.c - the two structural comparisons of a run.
 *
 * compare_offline: GDB attached and GDB on the core read the same stopped
 * moment, so their documents must be equal apart from "source" and "clock".
 *
 * compare_live: the live dump (written by the scenario just before its
 * checkpoint) and the offline dump must agree task by task.  The live
 * native frames (one backtrace per leaf, innermost first, ending below
 * at_root_poll) are projected onto the task's async functions by symbol
 * name (`fn` or `fn_poll`), and each projection must equal the path of
 * async frames from the root to one leaf of the offline await tree. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- Generic JSON equality with readable paths ---------------------------- */

/* Label for element i of an array: by "id" or "tid" when the elements are
 * objects that carry one, else the index. */
static void elem_label(json_t *arr, size_t i, char *buf, size_t len)
{
    json_t *e = json_array_get(arr, i);
    if (json_is_object(e)) {
        json_t *id = json_object_get(e, "id");
        if (json_is_integer(id)) {
            snprintf(buf, len, "[id=%lld]", (long long)json_integer_value(id));
            return;
        }
        id = json_object_get(e, "tid");
        if (json_is_integer(id)) {
            snprintf(buf, len, "[tid=%lld]", (long long)json_integer_value(id));
            return;
        }
        const char *fn = j_str(e, "function");
        if (fn) {
            snprintf(buf, len, "[%zu:%s]", i, fn);
            return;
        }
    }
    snprintf(buf, len, "[%zu]", i);
}

static void short_json(json_t *v, char *buf, size_t len)
{
    if (!v) {
        snprintf(buf, len, "(absent)");
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (!s) {
        snprintf(buf, len, "?");
        return;
    }
    if (strlen(s) > 80)
        snprintf(buf, len, "%.77s...", s);
    else
        snprintf(buf, len, "%s", s);
    free(s);
}

#define DIFF_CAP 200

static void json_diff(json_t *a, json_t *b, const char *path, const char *na,
                      const char *nb, hlist *diffs, size_t *count, int top)
{
    if (*count >= DIFF_CAP)
        return;
    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *va;
        json_object_foreach(a, key, va) {
            if (top && (!strcmp(key, "source") || !strcmp(key, "clock")))
                continue;
            char *sub = h_asprintf("%s%s%s", path, *path ? "." : "", key);
            json_diff(va, json_object_get(b, key), sub, na, nb, diffs, count, 0);
            free(sub);
        }
        json_t *vb;
        json_object_foreach(b, key, vb) {
            if (top && (!strcmp(key, "source") || !strcmp(key, "clock")))
                continue;
            if (!json_object_get(a, key)) {
                char *sub = h_asprintf("%s%s%s", path, *path ? "." : "", key);
                json_diff(NULL, vb, sub, na, nb, diffs, count, 0);
                free(sub);
            }
        }
        return;
    }
    if (json_is_array(a) && json_is_array(b)) {
        size_t n = json_array_size(a), m = json_array_size(b);
        if (n != m) {
            hlist_printf(diffs, "%s: %zu elements in %s, %zu in %s", path, n, na, m, nb);
            (*count)++;
        }
        for (size_t i = 0; i < n && i < m; i++) {
            char lab[96];
            elem_label(a, i, lab, sizeof lab);
            char *sub = h_asprintf("%s%s", path, lab);
            json_diff(json_array_get(a, i), json_array_get(b, i), sub, na, nb,
                      diffs, count, 0);
            free(sub);
        }
        return;
    }
    if (a && b && json_equal(a, b))
        return;
    char sa[96], sb[96];
    short_json(a, sa, sizeof sa);
    short_json(b, sb, sizeof sb);
    hlist_printf(diffs, "%s: %s %s, %s %s", *path ? path : "(document)", na, sa, nb, sb);
    (*count)++;
}

size_t compare_offline(json_t *attached, json_t *core, const char *what, hlist *diffs)
{
    size_t count = 0;
    hlist local = {0};
    json_diff(attached, core, "", "attached", "core", &local, &count, 1);
    for (size_t i = 0; i < local.n; i++)
        hlist_printf(diffs, "%s: %s", what, local.v[i]);
    hlist_free(&local);
    return count;
}

/* ---- Live versus offline ------------------------------------------------- */

static json_t *find_by_id(json_t *arr, long long id)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (j_int(e, "id", -1) == id)
            return e;
    }
    return NULL;
}

/* An object mapping decimal ids to the elements of arr (borrowed). */
static json_t *index_by_id(json_t *arr)
{
    json_t *idx = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        char key[32];
        snprintf(key, sizeof key, "%lld", j_int(e, "id", -1));
        json_object_set(idx, key, e);
    }
    return idx;
}

static json_t *lookup_id(json_t *idx, long long id)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", id);
    return json_object_get(idx, key);
}

typedef struct cmpctx {
    hlist *diffs;
    size_t count;
    char task[96];   /* `task 3 "worker"` */
} cmpctx;

static void cdiff(cmpctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cdiff(cmpctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = h_vformat(fmt, ap);
    va_end(ap);
    if (s) {
        hlist_printf(c->diffs, "%s: %s", c->task, s);
        free(s);
    }
    c->count++;
}

static void cmp_field(cmpctx *c, const char *where, const char *field, json_t *live,
                      json_t *off)
{
    json_t *a = json_object_get(live, field), *b = json_object_get(off, field);
    if (a && b && json_equal(a, b))
        return;
    if (!a && !b)
        return;
    char sa[96], sb[96];
    short_json(a, sa, sizeof sa);
    short_json(b, sb, sizeof sb);
    cdiff(c, "%s%s%s: live %s, offline %s", where, *where ? " " : "", field, sa, sb);
}

static const char *fn_of(json_t *f)
{
    const char *s = j_str(f, "function");
    return s ? s : "?";
}

/* Compare two await trees node by node; `where` names the frame. */
static void cmp_frames(cmpctx *c, json_t *lf, json_t *of, const char *where, int depth)
{
    if (depth > 256)
        return;
    if (json_is_null(lf) && json_is_null(of))
        return;
    if (!json_is_object(lf) || !json_is_object(of)) {
        cdiff(c, "%s: live %s, offline %s", where,
              json_is_object(lf) ? fn_of(lf) : "no frame",
              json_is_object(of) ? fn_of(of) : "no frame");
        return;
    }
    static const char *fields[] = {"function", "file", "line", "kind", "address", "error"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        cmp_field(c, where, fields[i], lf, of);
    json_t *lr = json_object_get(lf, "resource"), *orr = json_object_get(of, "resource");
    if (json_is_object(lr) || json_is_object(orr)) {
        if (!json_is_object(lr) || !json_is_object(orr)) {
            cdiff(c, "%s resource: live %s, offline %s", where,
                  json_is_object(lr) ? "present" : "none",
                  json_is_object(orr) ? "present" : "none");
        } else {
            const char *key;
            json_t *v;
            char *w = h_asprintf("%s resource", where);
            json_object_foreach(lr, key, v) cmp_field(c, w, key, lr, orr);
            json_object_foreach(orr, key, v) {
                if (!json_object_get(lr, key))
                    cmp_field(c, w, key, lr, orr);
            }
            free(w);
        }
    }
    json_t *lk = j_arr(lf, "children"), *ok = j_arr(of, "children");
    size_t n = lk ? json_array_size(lk) : 0, m = ok ? json_array_size(ok) : 0;
    if (n != m)
        cdiff(c, "%s: %zu children live, %zu offline", where, n, m);
    for (size_t i = 0; i < n && i < m; i++) {
        json_t *lch = json_array_get(lk, i), *och = json_array_get(ok, i);
        char *sub = h_asprintf("%s > %s", where, fn_of(och));
        cmp_frames(c, lch, och, sub, depth + 1);
        free(sub);
    }
}

/* The paths of async frames from the root to each leaf of an await tree. */
typedef struct apath {
    const char *fn[64];
    long long line[64];
    const char *file[64];
    int n;
    int used;
} apath;

typedef struct apaths {
    apath *v;
    size_t n, cap;
} apaths;

static void collect_paths(json_t *f, apath *cur, apaths *out, int depth)
{
    if (!json_is_object(f) || depth > 256)
        return;
    apath here = *cur;
    const char *kind = j_str(f, "kind");
    if (kind && !strcmp(kind, "async") && here.n < 64) {
        here.fn[here.n] = fn_of(f);
        here.line[here.n] = j_int(f, "line", 0);
        here.file[here.n] = j_str(f, "file");
        here.n++;
    }
    json_t *kids = j_arr(f, "children");
    if (!kids || json_array_size(kids) == 0) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 8;
            out->v = realloc(out->v, out->cap * sizeof *out->v);
            if (!out->v)
                abort();
        }
        out->v[out->n++] = here;
        return;
    }
    size_t i;
    json_t *k;
    json_array_foreach(kids, i, k) collect_paths(k, &here, out, depth + 1);
}

/* Does a native symbol name the async function fn? */
static int symbol_is(const char *sym, const char *fn)
{
    size_t n = strlen(fn);
    return sym && !strncmp(sym, fn, n) && (sym[n] == 0 || !strcmp(sym + n, "_poll"));
}

static void render_path(const apath *p, hstr *b)
{
    if (!p->n)
        hstr_add(b, "(no async frame)");
    for (int i = p->n - 1; i >= 0; i--)
        hstr_printf(b, "%s%s:%lld", i == p->n - 1 ? "" : " <- ", p->fn[i], p->line[i]);
}

static const char *base_name(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p;
}

/* Project one backtrace onto the async functions in `paths`. */
static void project(json_t *bt, const apaths *paths, apath *out)
{
    memset(out, 0, sizeof *out);
    size_t nf = json_array_size(bt);
    for (size_t k = nf; k-- > 0;) { /* outermost first */
        json_t *nfr = json_array_get(bt, k);
        const char *sym = j_str(nfr, "symbol");
        if (!sym)
            continue;
        const char *match = NULL, *file = NULL;
        for (size_t p = 0; p < paths->n && !match; p++)
            for (int i = 0; i < paths->v[p].n && !match; i++)
                if (symbol_is(sym, paths->v[p].fn[i])) {
                    match = paths->v[p].fn[i];
                    file = paths->v[p].file[i];
                }
        if (!match || out->n >= 64)
            continue;
        out->fn[out->n] = match;
        /* The call site's line counts only when DWARF put it in the frame's
         * own file (an inlined helper's line would not be an await line). */
        const char *nfile = j_str(nfr, "file");
        long long nline = j_int(nfr, "line", 0);
        out->line[out->n] = (nline > 0 && nfile && file &&
                             !strcmp(base_name(nfile), base_name(file))) ? nline : -1;
        out->file[out->n] = nfile;
        out->n++;
    }
}

static int path_equal(const apath *proj, const apath *p)
{
    if (proj->n != p->n)
        return 0;
    for (int i = 0; i < p->n; i++) {
        if (strcmp(proj->fn[i], p->fn[i]))
            return 0;
        if (proj->line[i] >= 0 && proj->line[i] != p->line[i])
            return 0;
    }
    return 1;
}

static void cmp_native(cmpctx *c, json_t *live_task, json_t *off_task)
{
    json_t *native = j_arr(live_task, "native");
    apaths paths = {0};
    apath empty = {0};
    collect_paths(json_object_get(off_task, "await"), &empty, &paths, 0);
    size_t nbt = native ? json_array_size(native) : 0;
    if (nbt != paths.n)
        cdiff(c, "%zu live native backtraces, %zu leaves in the offline await tree",
              nbt, paths.n);
    for (size_t b = 0; b < nbt; b++) {
        json_t *bt = json_array_get(native, b);
        if (!json_is_array(bt)) {
            cdiff(c, "native backtrace %zu is not an array", b + 1);
            continue;
        }
        apath proj;
        project(bt, &paths, &proj);
        size_t hit = paths.n;
        for (size_t p = 0; p < paths.n && hit == paths.n; p++)
            if (!paths.v[p].used && path_equal(&proj, &paths.v[p]))
                hit = p;
        if (hit < paths.n) {
            paths.v[hit].used = 1;
            continue;
        }
        hstr a = {0}, o = {0};
        render_path(&proj, &a);
        /* Name the closest offline path: the first unmatched one. */
        for (size_t p = 0; p < paths.n; p++)
            if (!paths.v[p].used) {
                render_path(&paths.v[p], &o);
                break;
            }
        cdiff(c, "native backtrace %zu projects to %s; offline await chain is %s",
              b + 1, a.s, o.s ? o.s : "(none left)");
        hstr_free(&a);
        hstr_free(&o);
    }
    free(paths.v);
}

static void cmp_task(cmpctx *c, json_t *lt, json_t *ot)
{
    static const char *fields[] = {"name", "state", "parent", "error"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        cmp_field(c, "", fields[i], lt, ot);
    json_t *ls = json_object_get(lt, "spawn"), *os = json_object_get(ot, "spawn");
    if (!json_is_object(ls) || !json_is_object(os)) {
        if (!(json_is_null(ls) && json_is_null(os)))
            cmp_field(c, "", "spawn", lt, ot);
    } else {
        static const char *sf[] = {"kind", "function", "file", "line"};
        for (size_t i = 0; i < sizeof sf / sizeof sf[0]; i++)
            cmp_field(c, "spawn", sf[i], ls, os);
    }
    json_t *la = json_object_get(lt, "await"), *oa = json_object_get(ot, "await");
    cmp_frames(c, la, oa, json_is_object(oa) ? fn_of(oa) : "await", 0);
    const char *trace = j_str(lt, "trace");
    if (trace && !strcmp(trace, "traced"))
        cmp_native(c, lt, ot);
}

size_t compare_live(json_t *live, json_t *offline, hlist *diffs)
{
    cmpctx c = {.diffs = diffs};
    json_t *lrts = j_arr(live, "runtimes"), *orts = j_arr(offline, "runtimes");
    snprintf(c.task, sizeof c.task, "live dump");
    if (!lrts || !json_array_size(lrts)) {
        cdiff(&c, "has no runtime");
        return c.count;
    }
    size_t i;
    json_t *lrt;
    json_array_foreach(lrts, i, lrt) {
        long long rid = j_int(lrt, "id", -1);
        json_t *ort = orts ? find_by_id(orts, rid) : NULL;
        snprintf(c.task, sizeof c.task, "runtime %lld", rid);
        if (!ort) {
            cdiff(&c, "in the live dump only");
            continue;
        }
        cmp_field(&c, "", "flavor", lrt, ort);
        cmp_field(&c, "", "workers", lrt, ort);
        json_t *lts = j_arr(lrt, "tasks"), *ots = j_arr(ort, "tasks");
        json_t *lidx = index_by_id(lts), *oidx = index_by_id(ots);
        size_t k;
        json_t *lt, *ot;
        json_array_foreach(lts, k, lt) {
            long long id = j_int(lt, "id", -1);
            const char *name = j_str(lt, "name");
            snprintf(c.task, sizeof c.task, "task %lld \"%s\"", id, name ? name : "?");
            ot = lookup_id(oidx, id);
            if (!ot) {
                cdiff(&c, "in the live dump only");
                continue;
            }
            cmp_task(&c, lt, ot);
        }
        json_array_foreach(ots, k, ot) {
            long long id = j_int(ot, "id", -1);
            if (!lookup_id(lidx, id)) {
                const char *name = j_str(ot, "name");
                snprintf(c.task, sizeof c.task, "task %lld \"%s\"", id, name ? name : "?");
                cdiff(&c, "in the offline dump only");
            }
        }
        json_decref(lidx);
        json_decref(oidx);
    }
    return c.count;
}
